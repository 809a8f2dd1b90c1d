"""`sealguard log export`: the log, its checkpoints and public key, for an auditor, offline."""

import fcntl
import io
import os
import tarfile
import time
from pathlib import Path

from sealguard.errors import UsageError
from sealguard.ledger.layout import Ledger
from sealguard.ledger.reader import read_first_event

AUDITOR_README = """\
sealguard governance log export
===============================

Files
  GOVERNANCE_LOG.ndjson  the log: one RFC 8785 canonical JSON event per line; `seq` is the
                         0-based line number.
  checkpoint             the latest signed checkpoint (C2SP tlog-checkpoint, signed note)
  checkpoint.history     every checkpoint ever published, each followed by a blank line
  witness/               the witness's copies, when the log has a witness
  log.vkey               the log's verifier key (<name>+<key id>+<base64 Ed25519 key>); it is
                         also in the first event. Trust it only if you obtained it, or the
                         witness's checkpoints, some other way.

Verify offline
  pip install sealguard
  sealguard log verify --dir .        (exit 0 intact, 3 violated)

What it checks, so you can redo it by hand
  * every line is canonical JSON (RFC 8785) with seq equal to its position;
  * the RFC 6962 Merkle tree over the lines: leaf = SHA-256(0x00 || line without its
    newline), node = SHA-256(0x01 || left || right);
  * each checkpoint's Ed25519 signature (key id = first 4 bytes of
    SHA-256(name || 0x0A || 0x01 || key)), and that its root equals the tree's root at its
    size: a log smaller than a checkpoint is TRUNCATION, the same size with another root
    is FORK;
  * a line that is not JSON is a write cut short by a crash only if the next event
    (type torn_tail) records its offset, length and SHA-256.
"""


def _add(archive: tarfile.TarFile, name: str, data: bytes | Path, mtime: float) -> None:
    """Add bytes, or a file streamed from disk (the log can be large)."""
    info = tarfile.TarInfo(name)
    info.mtime, info.mode = int(mtime), 0o644
    if isinstance(data, Path):
        info.size = data.stat().st_size
        with data.open("rb") as stream:
            archive.addfile(info, stream)
    else:
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))


def export(ledger: Ledger, target: Path) -> list[str]:
    """Write the export archive; returns the names it holds. Writers wait while it reads."""
    if not ledger.log.exists():
        raise UsageError(f"{ledger.log}: no governance log to export")
    first = read_first_event(ledger.log)
    vkey = first.get("log_key", {}).get("verifier_key", "") if first else ""
    files = [(ledger.checkpoint, "checkpoint"), (ledger.history, "checkpoint.history")]
    if ledger.witness is not None:
        files += [
            (ledger.witness / "checkpoint", "witness/checkpoint"),
            (ledger.witness / "checkpoint.history", "witness/checkpoint.history"),
        ]
    now = time.time()
    names: list[str] = []
    fd = os.open(ledger.log, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # a consistent log and checkpoints: no append meanwhile
        with tarfile.open(target, "w:gz") as archive:
            items: list[tuple[str, bytes | Path]] = [
                ("GOVERNANCE_LOG.ndjson", ledger.log),
                *[(arc, path) for path, arc in files if path.exists()],
                ("log.vkey", (vkey + "\n").encode()),
                ("README.txt", AUDITOR_README.encode()),
            ]
            for name, data in items:
                _add(archive, name, data, now)
                names.append(name)
    finally:
        os.close(fd)
    return names
