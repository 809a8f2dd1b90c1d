"""`sealguard log migrate --to URL`: a host's file log copied into the fleet database, and proved
to be the same tree there.

The log is audited first (a history that is not intact is not handed to a witness that trusts
its first sight). A database that keeps another history for this log (other lines at its origin,
more lines than the log, or this project on this host under another origin) is refused before
anything is sent, so that no refusal is recorded for a mere mistake of URL. Then everything the
database lacks is shipped as every act ships it (fleet/shipping.py: in chunks, one transaction),
and the copy is proved from the database's own lines: its tree at the size of the host's newest
checkpoint has that checkpoint's root, and an RFC 9162 consistency proof leads from there to the
newest checkpoint the database accepted. Run again, it sends nothing and proves again. The files
are untouched: they stay the host's log, its spool and evidence.
"""

import base64
from dataclasses import dataclass, replace
from typing import Any

from sealguard.errors import IntegrityError, RefusedError
from sealguard.fleet import entries
from sealguard.fleet.database import connect
from sealguard.fleet.shipping import ShipRefused
from sealguard.fleet.urls import shown
from sealguard.ledger import note
from sealguard.ledger.auditor import audit
from sealguard.ledger.compact import leaf_hashes
from sealguard.ledger.layout import FleetPlace, Ledger
from sealguard.ledger.lines import batches
from sealguard.ledger.merkle import (
    CompactRange,
    Nodes,
    consistency_proof,
    leaf_hash,
    verify_consistency,
)
from sealguard.ledger.reader import read_first_event
from sealguard.ledger.view import latest_checkpoint
from sealguard.ledger.writer import ship_owed


@dataclass(frozen=True)
class Migration:
    """What was copied, and the proof that the database holds the same tree."""

    where: str  # the database, as messages show it
    origin: str
    place: FleetPlace
    sent: int  # lines sent by this run
    local: note.Checkpoint  # the host's newest checkpoint
    at_local: bytes  # the database's root at the local checkpoint's size, from its lines
    held: note.Checkpoint  # the newest checkpoint the database accepted
    proof: list[bytes]  # consistency from local.size to held.size


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _log_key(ledger: Ledger) -> tuple[str, str, bytes]:
    """(verifier key, origin, public key) as line 1 names them."""
    first = read_first_event(ledger.log) or {}
    vkey = str((first.get("log_key") or {}).get("verifier_key", ""))
    name, public = note.parse_verifier_key(vkey)
    return vkey, name, public


def _intact(ledger: Ledger, jobs: int) -> note.Checkpoint:
    """The host's newest checkpoint, once its log is found intact; IntegrityError otherwise."""
    report = audit(ledger, jobs, full=False)
    first = report.first_problem()
    if first is not None:
        raise IntegrityError(
            f"{ledger.log}: not intact ({first.kind}: {first.message}); nothing was copied: "
            "`sealguard log verify` says what is wrong"
        )
    return latest_checkpoint(ledger, "no checkpoint yet; nothing to migrate")


def _root_in_file(ledger: Ledger, size: int) -> bytes:
    tree = CompactRange()
    for lines, _ in batches(ledger.log, []):
        for leaf in leaf_hashes(lines[: size - tree.size]):
            tree.push(leaf)
        if tree.size >= size:
            break
    return tree.root()


def _other_history(
    conn: Any, ledger: Ledger, place: FleetPlace, vkey: str, size: int
) -> str | None:
    """Why the database keeps another history for this log, or None."""
    origin = note.parse_verifier_key(vkey)[0]
    held = entries.log(conn, origin)
    if held is None:
        row = conn.execute(
            "SELECT origin, size FROM sealguard.logs WHERE project = %s AND host = %s "
            "AND retired IS NULL",
            (place.project, place.host),
        ).fetchone()
        if row is None:
            return None
        return (
            f"it keeps {place.project} on {place.host} as log {row[0]} ({row[1]} lines), not "
            f"as this log {origin}: give this host another name ([ledger] host), or find out "
            "why this project was re-sealed"
        )
    if held.log_key != vkey:
        return f"it keeps log {origin} with another key ({held.log_key})"
    if held.size > size:
        return f"it holds {held.size} lines of log {origin}, more than the {size} here"
    root = conn.execute("SELECT sealguard.frontier_root(%s::bytea[])", (list(held.frontier),))
    if held.size and bytes(root.fetchone()[0]) != _root_in_file(ledger, held.size):
        return f"its {held.size} lines of log {origin} are not this log's first {held.size}"
    return None


def _tree_at(conn: Any, origin: str, old: int, new: int) -> tuple[CompactRange, list[bytes]]:
    """The database's tree at `old` lines and the leaves from there to `new`, from its lines."""
    base, after = CompactRange(), list[bytes]()
    for rows in entries.rows(conn, origin, 0, new):
        for seq, line, _ in rows:
            if seq != base.size + len(after):
                raise IntegrityError(f"log {origin}: the database lacks line {base.size + 1}")
            leaf = leaf_hash(bytes(line))
            if base.size < old:
                base.push(leaf)
            else:
                after.append(leaf)
    if base.size + len(after) != new:
        raise IntegrityError(f"log {origin}: the database holds fewer than {new} lines")
    return base, after


def _proved(
    conn: Any, origin: str, public: bytes, local: note.Checkpoint
) -> tuple[bytes, note.Checkpoint, list[bytes]]:
    entries.begin_snapshot(conn)
    rows = entries.checkpoints(conn, origin)
    held = note.parse(rows[-1].note)
    if not note.signed_by(held, origin, public):
        raise IntegrityError(
            f"log {origin}: the database's newest checkpoint is not signed by its key"
        )
    base, after = _tree_at(conn, origin, local.size, held.size)
    proof = consistency_proof(local.size, held.size, Nodes(base, after).root)
    if base.root() != local.root or not verify_consistency(
        local.size, held.size, local.root, held.root, proof
    ):
        raise IntegrityError(
            f"log {origin}: the database's tree is not this log's: its root at {local.size} lines "
            f"is {b64(base.root())}, the checkpoint here says {b64(local.root)}"
        )
    return base.root(), held, proof


def migrate(ledger: Ledger, place: FleetPlace, jobs: int = 1) -> Migration:
    """Copy the log into the database at `place` and prove the copy; see the module's doc."""
    local = _intact(ledger, jobs)
    vkey, origin, public = _log_key(ledger)
    where = shown(place.url)
    with connect(place.url) as conn:
        entries.require_schema(conn)
        why = _other_history(conn, ledger, place, vkey, local.size)
    if why is not None:
        raise RefusedError(f"{where} keeps another history of this log: {why}; nothing was sent")
    try:
        shipped = ship_owed(replace(ledger, fleet=place))
    except ShipRefused as exc:
        raise RefusedError(f"{exc.message}; nothing more was sent") from None
    with connect(place.url) as conn:
        at_local, held, proof = _proved(conn, origin, public, local)
    return Migration(where, origin, place, shipped.sent, local, at_local, held, proof)
