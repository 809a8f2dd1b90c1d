"""The log's side of its witness: enrolling, submitting checkpoints, and being held against it.

Writing: before an append, the writer makes contact (the witness's key is made in a fresh
folder; a log the witness does not know is enrolled, and announced in the log by a
`witness_configured` event so that removing the witness later is seen); after the local
checkpoint, it submits the new one with a consistency proof. A refusal is kept by the witness
and never stops the append: the evidence is written locally first.

Checking: the auditor reads what the witness keeps for the log (before reading the log), then
`hold` compares: the log must name the key the witness enrolled, and extend the checkpoint the
witness last cosigned; a project the witness keeps under another origin was re-sealed or
re-keyed; a log that says a witness keeps it needs that witness configured.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sealguard.errors import DataError, EvidenceWriteError, SealguardError
from sealguard.ledger import cosignature, note
from sealguard.ledger.layout import Ledger
from sealguard.ledger.merkle import Nodes, consistency_proof
from sealguard.ledger.problem import Problem
from sealguard.ledger.witness import FolderWitness, Identity, LogRecord, Refusal, Refused, Witness

ANNOUNCEMENT = "witness_configured"


def witness_of(ledger: Ledger) -> Witness | None:
    """The witness the ledger is configured with (a folder, today)."""
    return FolderWitness(ledger.witness) if ledger.witness is not None else None


def _failure(where: str, error: str) -> EvidenceWriteError:
    return EvidenceWriteError(
        f"{where}: the event is written and checkpointed locally, but the witness could not be "
        f"updated ({error}); the next append tries again"
    )


@dataclass
class Contact:
    """A writer's contact with its witness for one append."""

    witness: Witness
    identity: Identity | None = None
    known: bool = True  # the witness already keeps this log
    error: str | None = None  # why the witness could not be reached

    def announcement(self) -> list[tuple[str, dict[str, Any]]]:
        """The event that records, in the log itself, which witness keeps it from now on."""
        if self.error is not None or self.known or self.identity is None:
            return []
        named = {
            "name": self.identity.name,
            "verifier_key": self.identity.verifier_key,
            "where": self.witness.where,
        }
        return [(ANNOUNCEMENT, {"witness": named})]

    def submit(
        self, checkpoint: note.Checkpoint, nodes: Nodes, reread: Callable[[int], Nodes]
    ) -> None:
        """Hand the new checkpoint over; `reread(size)` gives proof nodes from another size."""
        if self.error is not None:
            raise _failure(self.witness.where, self.error)
        try:
            answer = self._add(nodes.base, nodes, checkpoint)
            if isinstance(answer, Refusal) and answer.size is not None:  # it holds another size
                held = answer.size
                again = reread(held) if held <= checkpoint.size else None
                self._add(held, again, checkpoint)
        except (OSError, SealguardError) as exc:
            raise _failure(self.witness.where, getattr(exc, "message", None) or str(exc)) from None

    def _add(self, old: int, nodes: Nodes | None, checkpoint: note.Checkpoint) -> str | Refusal:
        proof = consistency_proof(old, checkpoint.size, nodes.root) if nodes is not None else []
        return self.witness.add_checkpoint(old, proof, checkpoint.note())


def contact(ledger: Ledger, origin: str, log_key: str) -> Contact | None:
    """Reach the witness before writing: made in a fresh folder, the log enrolled if new."""
    witness = witness_of(ledger)
    if witness is None:
        return None
    try:
        if isinstance(witness, FolderWitness) and witness.is_fresh():
            witness.create()
        identity = witness.identity()
        if identity is None:
            raise DataError("no witness key (witness.vkey); `sealguard witness init` makes one")
        known = witness.record(origin) is not None
        if not known:
            witness.enrol(origin, log_key, str(ledger.folder))  # a refusal is kept by the witness
        return Contact(witness, identity, known)
    except (OSError, SealguardError) as exc:
        return Contact(witness, error=getattr(exc, "message", None) or str(exc))


@dataclass
class View:
    """What the witness keeps about one log, read before the log itself."""

    where: str
    identity: Identity | None = None
    record: LogRecord | None = None  # kept under the log's origin
    project: LogRecord | None = None  # the latest kept for the log's folder
    refusals: list[Refused] = field(default_factory=list)
    error: str | None = None


def view(ledger: Ledger, origin: str | None) -> View | None:
    witness = witness_of(ledger)
    if witness is None:
        return None
    seen = View(witness.where)
    try:
        seen.identity = witness.identity()
        if seen.identity is not None:
            seen.record = witness.record(origin) if origin else None
            seen.project = witness.record_of(str(ledger.folder)) if not seen.record else None
            seen.refusals = witness.refusals(origin) if origin and seen.record else []
    except (OSError, SealguardError) as exc:
        seen.error = getattr(exc, "message", None) or str(exc)
    return seen


@dataclass(frozen=True)
class LogFacts:
    """What the auditor found in the log that a witness check needs."""

    origin: str | None
    log_key: str | None
    lines: int
    root_at: Callable[[int], bytes | None]
    announced: list[tuple[int, dict[str, Any]]]  # (1-based line, witness_configured event)


def _when(record: LogRecord, identity: Identity) -> str:
    checkpoint = record.checkpoint
    stamp = checkpoint and cosignature.cosigned_at(checkpoint, identity.name, identity.public)
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if stamp else "?"


def _named(event: dict[str, Any]) -> tuple[str, str]:
    named = event.get("witness")
    if not isinstance(named, dict):
        return "?", ""
    return str(named.get("name", "?")), str(named.get("verifier_key", ""))


def hold(seen: View | None, log: LogFacts) -> list[Problem]:
    """Every way the log departs from what its witness keeps (INV-D-03)."""
    last = log.announced[-1] if log.announced else None
    if seen is None:
        if last is None:
            return []
        line, event = last
        return [
            Problem(
                "WITNESS",
                f"line {line}: the log says a witness keeps this log, but none is configured "
                f"(it named {_named(event)[0]}; [ledger] witness in sealguard.toml)",
                line,
            )
        ]
    if seen.error is not None:
        if not log.lines and last is None:
            return []
        return [Problem("WITNESS", f"{seen.where}: the witness cannot be read ({seen.error})")]
    if seen.identity is None:
        if last is None:
            return []  # not witnessed yet: the next append makes the witness
        return [
            Problem(
                "WITNESS",
                f"line {last[0]}: the log says witness {_named(last[1])[0]} keeps it, but "
                f"{seen.where} holds no witness",
                last[0],
            )
        ]
    return _against(seen, seen.identity, log, last)


def _against(
    seen: View, identity: Identity, log: LogFacts, last: tuple[int, dict[str, Any]] | None
) -> list[Problem]:
    found: list[Problem] = []
    if last is not None and _named(last[1])[1] != identity.verifier_key:
        found.append(
            Problem(
                "WITNESS",
                f"line {last[0]}: the log says witness {_named(last[1])[0]} keeps it, but "
                f"{seen.where} is witness {identity.name}",
                last[0],
            )
        )
    if seen.record is None:
        return found + _unknown(seen, identity, log, last)
    return found + _kept(seen, seen.record, identity, log)


def _unknown(
    seen: View, identity: Identity, log: LogFacts, last: tuple[int, dict[str, Any]] | None
) -> list[Problem]:
    other = seen.project
    if other is not None:
        kept = (
            f"the witness keeps this log folder as log {other.origin} ({other.size} lines "
            f"cosigned, the last at {_when(other, identity)})"
        )
        if log.origin is None:
            return [Problem("WITNESS", f"{kept}, but the log here is gone or names no key")]
        return [
            Problem(
                "WITNESS",
                f"{kept}, but this log is {log.origin}: the project was re-sealed or re-keyed",
                1,
            )
        ]
    if last is not None and _named(last[1])[1] == identity.verifier_key:
        return [
            Problem(
                "WITNESS",
                f"line {last[0]}: the log says witness {identity.name} keeps it, but the witness "
                f"holds no record of log {log.origin}",
                last[0],
            )
        ]
    return []  # not witnessed yet: the next append enrols it


def _kept(seen: View, record: LogRecord, identity: Identity, log: LogFacts) -> list[Problem]:
    found: list[Problem] = []
    when = _when(record, identity)
    if log.log_key is not None and record.log_key != log.log_key:
        found.append(
            Problem(
                "WITNESS",
                f"line 1 names the log key {log.log_key}, but the witness keeps origin "
                f"{record.origin} with the key {record.log_key}: the log was re-keyed",
                1,
            )
        )
    if record.checkpoint is not None and not _vouched(record, identity):
        found.append(
            Problem(
                "WITNESS",
                f"{seen.where}: the witness's record of {record.origin} is not signed by the log "
                f"key and cosigned by witness {identity.name}",
            )
        )
    if record.size > log.lines:
        found.append(
            Problem(
                "TRUNCATION",
                f"the witness cosigned {record.size} lines at {when} but the log holds "
                f"{log.lines}: the log was cut back",
                log.lines + 1,
            )
        )
    elif log.root_at(record.size) != record.root:
        found.append(
            Problem(
                "FORK",
                f"the log's first {record.size} lines are not the ones the witness cosigned at "
                f"{when}: the history was rewritten",
            )
        )
    found += [
        Problem("REFUSED", f"the witness refused a checkpoint of this log at {r.at}: {r.reason}")
        for r in seen.refusals
        if r.after == record.accepted
    ]
    return found


def _vouched(record: LogRecord, identity: Identity) -> bool:
    checkpoint = record.checkpoint
    assert checkpoint is not None
    try:
        name, public = note.parse_verifier_key(record.log_key)
    except note.NoteError:
        return False
    return note.signed_by(checkpoint, name, public) and (
        cosignature.cosigned_at(checkpoint, identity.name, identity.public) is not None
    )
