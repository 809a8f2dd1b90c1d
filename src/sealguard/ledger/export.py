"""`sealguard log export`: the log, its checkpoints and public key, for an auditor, offline."""

import fcntl
import importlib.resources
import io
import os
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path

from sealguard.errors import UsageError
from sealguard.ledger import files
from sealguard.ledger.layout import Ledger
from sealguard.ledger.reader import read_first_event
from sealguard.ledger.witness import LOGS, VKEY_NAME, log_id

AUDITOR_README = """\
sealguard governance log export
===============================

Files
  verify.py              checks all of this offline, without sealguard (see below)
  GOVERNANCE_LOG.ndjson  the log: one RFC 8785 canonical JSON event per line; `seq` is the
                         0-based line number.
  checkpoint             the latest signed checkpoint (C2SP tlog-checkpoint, signed note)
  checkpoint.history     every checkpoint ever published, each followed by a blank line
  witness/               when the log has a witness: what the witness keeps about this log
                         (witness.vkey, its verifier key; logs/<id>.json, its record with the
                         latest checkpoint it cosigned; logs/<id>.cosigned, every checkpoint it
                         cosigned; logs/<id>.refused, every checkpoint it refused)
  DECISIONS.txt          every signed decision, for people: who signed it (printed name and
                         id), when, what the signature means, what it decided and why; derived
                         from the log's `decision` events, which are what counts
  log.vkey               the log's verifier key (<name>+<key id>+<base64 Ed25519 key>); it is
                         also in the first event. Trust it only if you obtained it, or the
                         witness's verifier key, some other way.

Verify offline
  python3 verify.py                   (exit 0 intact, 3 violated, 65 a file cannot be read)
  It needs Python 3.8 or later and the `cryptography` package, for Ed25519 (nothing else, not
  sealguard): `python3 -m venv v && v/bin/pip install cryptography && v/bin/python verify.py`.
  It is one file to read before you run it (whoever could alter this bundle could alter it
  too; sealguard's source holds the same file as src/sealguard/ledger/bundle_verifier.py).
  It prints the log key line 1 names: compare it with the one you obtained elsewhere. With
  sealguard installed, `sealguard log verify --dir .` finds the same problems.

What it checks, so you can redo it by hand
  * every line is canonical JSON (RFC 8785) with seq equal to its position;
  * the RFC 6962 Merkle tree over the lines: leaf = SHA-256(0x00 || line without its
    newline), node = SHA-256(0x01 || left || right);
  * each checkpoint's Ed25519 signature (key id = first 4 bytes of
    SHA-256(name || 0x0A || 0x01 || key)), and that its root equals the tree's root at its
    size: a log smaller than a checkpoint is TRUNCATION, the same size with another root
    is FORK;
  * a line that is not JSON is a write cut short by a crash only if the next event
    (type torn_tail) records its offset, length and SHA-256;
  * with witness/: the log's first line names the key the witness enrolled, the witness's
    latest checkpoint carries the log's signature and the witness's cosignature (C2SP
    tlog-cosignature: Ed25519 over "cosignature/v1\ntime <t>\n" and the checkpoint body, key
    id type 0x04), the log holds at least its lines and has its root at its size, and no
    refusal is newer than it. A log that names a witness in a `witness_configured` event must
    come with that witness's record.
"""


def _verifier() -> bytes:
    """The standalone verifier, shipped as it is in sealguard (bundle_verifier.py)."""
    return importlib.resources.files("sealguard.ledger").joinpath("bundle_verifier.py").read_bytes()


def _add(archive: tarfile.TarFile, name: str, data: bytes | Path, mtime: float) -> None:
    """Add bytes, or a file streamed from disk (the log can be large)."""
    info = tarfile.TarInfo(name)
    info.mtime, info.mode = int(mtime), 0o644
    if isinstance(data, Path):
        with files.open_read(data) as stream:
            info.size = os.fstat(stream.fileno()).st_size
            archive.addfile(info, stream)
    else:
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))


def _witness_files(ledger: Ledger, origin: str | None) -> list[tuple[Path, str]]:
    """What the witness keeps about this log, laid out as a witness folder of its own."""
    if ledger.witness is None:
        return []
    kept = [(ledger.witness / VKEY_NAME, f"witness/{VKEY_NAME}")]
    if origin:
        name = log_id(origin)
        kept += [
            (ledger.witness / LOGS / f"{name}.{kind}", f"witness/{LOGS}/{name}.{kind}")
            for kind in ("json", "cosigned", "refused")
        ]
    return kept


def export(ledger: Ledger, target: Path, extra: Mapping[str, bytes] | None = None) -> list[str]:
    """Write the export archive; returns the names it holds. Writers wait while it reads.
    `extra` adds human-readable files derived from the log (DECISIONS.txt)."""
    if not ledger.log.exists():
        raise UsageError(f"{ledger.log}: no governance log to export")
    first = read_first_event(ledger.log)
    log_key = first.get("log_key", {}) if first else {}
    vkey = log_key.get("verifier_key", "")
    kept = [(ledger.checkpoint, "checkpoint"), (ledger.history, "checkpoint.history")]
    kept += _witness_files(ledger, log_key.get("origin"))
    now = time.time()
    names: list[str] = []
    fd = files.open_fd(ledger.log, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # a consistent log and checkpoints: no append meanwhile
        with tarfile.open(target, "w:gz") as archive:
            items: list[tuple[str, bytes | Path]] = [
                ("GOVERNANCE_LOG.ndjson", ledger.log),
                *[(arc, path) for path, arc in kept if path.exists() or path.is_symlink()],
                ("log.vkey", (vkey + "\n").encode()),
                ("README.txt", AUDITOR_README.encode()),
                ("verify.py", _verifier()),
                *(extra or {}).items(),
            ]
            for name, data in items:
                _add(archive, name, data, now)
                names.append(name)
    finally:
        os.close(fd)
    return names
