"""Proofs and exports of a log the fleet database keeps, in the formats of the file log's.

`log prove --url` writes the inclusion proof bundle `log prove` writes (ledger/proof.py), so that
`log check-proof` checks it offline; `log export --url` writes the archive `log export` writes
(ledger/export.py, with its verify.py), from the database's lines and accepted checkpoints laid
out as a log folder. Each reads the log at one moment (one repeatable-read transaction). The
tree is computed from the lines, never from the stored leaves, and a proof is checked against
the signed checkpoint before it is handed out.
"""

import tempfile
from pathlib import Path
from typing import Any

from sealguard.errors import DataError, IntegrityError, UsageError
from sealguard.fleet import entries
from sealguard.fleet.entries import CheckpointRow
from sealguard.ledger import note
from sealguard.ledger.compact import leaf_hashes
from sealguard.ledger.export import export
from sealguard.ledger.layout import Ledger
from sealguard.ledger.merkle import inclusion_proof, leaf_hash, root_from_inclusion
from sealguard.ledger.proof import bundle


def _latest(conn: Any, origin: str) -> CheckpointRow:
    found = entries.checkpoints(conn, origin)
    if not found:
        raise UsageError(f"the fleet database accepted no checkpoint of log {origin} yet")
    return found[-1]


def _leaves(conn: Any, origin: str, size: int) -> list[bytes]:
    """The leaf hashes of lines 0..size-1, computed from the lines; DataError on a gap."""
    leaves: list[bytes] = []
    for rows in entries.rows(conn, origin, 0, size):
        if rows[-1][0] != len(leaves) + len(rows) - 1:
            raise DataError(
                f"log {origin}: the database lacks lines before seq {rows[-1][0]}; "
                "run `sealguard log verify --url`"
            )
        leaves += leaf_hashes([bytes(row[1]) for row in rows])
    if len(leaves) != size:
        raise DataError(f"log {origin}: the database holds {len(leaves)} of its {size} lines")
    return leaves


def prove(conn: Any, origin: str, seq: int) -> dict[str, Any]:
    """The inclusion proof of line `seq` against the newest checkpoint the database accepted."""
    entries.begin_snapshot(conn)
    held = entries.log(conn, origin)
    if held is None:
        raise UsageError(f"the fleet database keeps no log {origin}")
    row = _latest(conn, origin)
    if not 0 <= seq < row.size:
        raise UsageError(
            f"seq {seq} is not covered by the latest checkpoint (it covers 0..{row.size - 1})"
        )
    checkpoint = _parsed(row, origin)
    leaves = _leaves(conn, origin, row.size)
    line = entries.line_at(conn, origin, seq) or b""
    path = inclusion_proof(leaves, seq)
    if root_from_inclusion(seq, row.size, leaf_hash(line), path) != checkpoint.root:
        raise IntegrityError(
            f"log {origin}: the database's lines do not give the root of its checkpoint at "
            f"{row.size} lines; `sealguard log verify --url` says what was altered"
        )
    return bundle(seq, line, path, checkpoint, held.log_key)


def _parsed(row: CheckpointRow, origin: str) -> note.Checkpoint:
    try:
        return note.parse(row.note)
    except note.NoteError as exc:
        raise IntegrityError(
            f"log {origin}: the checkpoint at {row.size} lines is unreadable ({exc})"
        ) from None


def _lay_out(conn: Any, origin: str, folder: Path) -> None:
    """The log's lines and accepted checkpoints as the files of a log folder."""
    with (folder / "GOVERNANCE_LOG.ndjson").open("wb") as log:
        for rows in entries.rows(conn, origin, 0, entries.bounds(conn, origin).stop):
            log.write(b"".join(bytes(row[1]) + b"\n" for row in rows))
    notes = [row.note for row in entries.checkpoints(conn, origin)]
    (folder / "checkpoint.history").write_text("".join(n + "\n" for n in notes), "utf-8")
    if notes:
        (folder / "checkpoint").write_text(notes[-1], "utf-8")


def export_log(
    conn: Any, origin: str, target: Path, extra: Any = None, where: Path | None = None
) -> list[str]:
    """Write the export archive of the log to `target` (through a log folder laid out in a
    temporary folder beside it, or in `where`); the names it holds. `extra(log_path)` gives
    the human-readable files derived from the log (DECISIONS.txt)."""
    entries.begin_snapshot(conn)
    if entries.log(conn, origin) is None:
        raise UsageError(f"the fleet database keeps no log {origin}")
    with tempfile.TemporaryDirectory(
        prefix=".sealguard-export-", dir=where or target.parent
    ) as tmp:
        folder = Path(tmp)
        _lay_out(conn, origin, folder)
        ledger = Ledger.in_folder(folder)
        return export(ledger, target, extra(ledger.log) if extra else None)
