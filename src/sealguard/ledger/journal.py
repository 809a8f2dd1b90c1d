"""The log's notable events without reading the whole log: a digest kept at the verified state.

Most of a long history is routine: a STABLE observation every few minutes, and the runtime
files each one writes. The state of observation, the escalations, the config and authority in
force, the decisions and the snapshots depend on the rest. The digest keeps, at the position of
the last verified state (ledger/verified.py): every event except the runtime area's bookkeeping
(`runtime_writing`, `runtime_file`, `runtime_leftovers`) and the STABLE observations that kept
no snapshot; plus the last few runtime events of any class, and the runtime writes still
announced and not recorded. It is signed with the log key and names the position (lines, root)
it was folded to; it is used only when the verified state is usable and at that same position.
The lines after it are read from the log itself. Folding these events gives what folding every
event gives, for each reader that uses them (state.fold, outbox.fold, baseline_record,
check_decisions, check_snapshots, proposals.find, runtime pending writes); anyone who needs every
event (`log show`, exports) reads the log.
"""

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.errors import DataError
from sealguard.ledger import note, signed, verified
from sealguard.ledger.layout import Ledger
from sealguard.ledger.reader import read_events, read_first_event

Event = dict[str, Any]
DOMAIN = b"sealguard-journal-digest/1\n"
RECENT = 5  # runtime events kept whatever their class (state.recent holds the last five)
BOOKKEEPING = frozenset({"runtime_writing", "runtime_file", "runtime_leftovers"})
# what the readers of a STABLE observation with a snapshot use (state.fold, check_snapshots)
SNAPSHOT_FIELDS = (
    "seq", "ts", "type", "event_id", "classification", "purpose", "observed_at", "snapshot",
)  # fmt: skip


def routine(event: Event) -> bool:
    """A STABLE observation that kept no snapshot: nothing folds it but `recent`."""
    return (
        event.get("type") == "runtime_event"
        and event.get("classification") == "STABLE"
        and event.get("purpose", "observation") in (None, "observation")
        and not event.get("snapshot")
    )


def _kept_for_its_snapshot(event: Event) -> bool:
    """A STABLE observation with a snapshot (one a day): only its snapshot is read later."""
    return (
        event.get("classification") == "STABLE"
        and event.get("purpose", "observation") in (None, "observation")
        and bool(event.get("snapshot"))
    )


@dataclass
class Digest:
    lines: int = 0
    root: bytes = b""
    notable: list[Event] = field(default_factory=list)
    recent: list[Event] = field(default_factory=list)  # the last RECENT runtime events
    pending: dict[str, str | None] = field(default_factory=dict)  # announced: path -> sha256

    def add(self, events: Iterable[Event]) -> None:
        for event in events:
            kind = event.get("type")
            if kind in BOOKKEEPING:
                self._runtime(event)
                continue
            if kind == "runtime_event":
                self.recent = [*self.recent[-(RECENT - 1) :], event]
                if routine(event):
                    continue
                if _kept_for_its_snapshot(event):
                    event = {k: event[k] for k in SNAPSHOT_FIELDS if k in event}
            self.notable.append(event)

    def _runtime(self, event: Event) -> None:
        kind = event.get("type")
        if kind == "runtime_writing":
            hashes = event.get("sha256") or {}
            for path in event.get("paths", []):
                self.pending[path] = hashes.get(path, self.pending.get(path))
        elif kind == "runtime_file":
            self.pending.pop(str(event.get("path")), None)
        else:
            self.pending.clear()

    def events(self) -> list[Event]:
        """The notable events and the last runtime events, in log order, once each."""
        kept = {int(e["seq"]): e for e in self.notable}
        kept.update({int(e["seq"]): e for e in self.recent})
        writes = [
            {"type": "runtime_writing", "seq": -1, "paths": list(self.pending), "sha256": {
                p: h for p, h in self.pending.items() if h is not None
            }}
        ] if self.pending else []  # fmt: skip
        return writes + [kept[seq] for seq in sorted(kept)]

    def body(self) -> bytes:
        data = {
            "lines": self.lines,
            "root": base64.b64encode(self.root).decode(),
            "notable": self.notable,
            "recent": self.recent,
            "pending": self.pending,
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _parse(body: bytes) -> Digest:
    data = json.loads(body)
    return Digest(
        int(data["lines"]),
        base64.b64decode(data["root"]),
        list(data["notable"]),
        list(data["recent"]),
        dict(data["pending"]),
    )


def _file(ledger: Ledger) -> Path:
    return ledger.index / "journal"


def log_public_key(ledger: Ledger) -> bytes | None:
    """The log key's public half, from the first event; None when it cannot be read."""
    try:
        first = read_first_event(ledger.log)
        return note.parse_verifier_key(str(first["log_key"]["verifier_key"]))[1] if first else None
    except (OSError, DataError, KeyError, TypeError, note.NoteError):
        return None


def _load(ledger: Ledger, public: bytes, state: verified.State) -> Digest | None:
    body = signed.read(_file(ledger), public, DOMAIN)
    try:
        digest = _parse(body) if body is not None else None
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if digest is None or (digest.lines, digest.root) != (state.lines, state.range.root()):
        return None
    return digest


def usable_state(ledger: Ledger, public: bytes) -> verified.State | None:
    """The verified state, when signed and the log and history are as it recorded them."""
    state = verified.load(ledger, public)
    now = (verified.identity(ledger.log), verified.identity(ledger.history))
    return state if state is not None and (state.log, state.history) == now else None


_READ: ContextVar[dict[tuple[Any, ...], list[Event]] | None] = ContextVar(
    "sealguard_read", default=None
)


@contextmanager
def one_command() -> Iterator[None]:
    """Within one command, a log state is read once however often it is asked for: while the
    log, its verified state and the digest keep their identity (a command's own appends move
    it). Outside one (a library call), every call reads."""
    token = _READ.set({})
    try:
        yield
    finally:
        _READ.reset(token)


def notable_events(ledger: Ledger) -> list[Event]:
    """The events that fold to the state, escalations, decisions and snapshots: from the digest
    and the log after it, or every event of the log when there is no usable digest. Raises what
    `read_events` raises (DataError on an unreadable line)."""
    memo = _READ.get()
    if memo is None:
        return _notable_events(ledger)
    seen = (
        ledger.log,
        verified.identity(ledger.log),
        verified.identity(ledger.verified),
        verified.identity(_file(ledger)),
    )
    if seen not in memo:
        memo.clear()
        memo[seen] = _notable_events(ledger)
    return list(memo[seen])


def _notable_events(ledger: Ledger) -> list[Event]:
    public = log_public_key(ledger)
    state = usable_state(ledger, public) if public else None
    digest = _load(ledger, public, state) if public and state else None
    if digest is None or state is None:
        return read_events(ledger.log)
    return [*digest.events(), *read_events(ledger.log, state.length, state.lines)]


def advance(
    ledger: Ledger, key: Ed25519PrivateKey, before: verified.State | None, after: verified.State
) -> None:
    """Fold the digest forward to the new verified state (from the old one's digest when it has
    one, else from the log's first line) and save it, signed."""
    public = key.public_key().public_bytes_raw()
    digest = _load(ledger, public, before) if before is not None else None
    start, first = (before.length, before.lines) if digest and before else (0, 0)
    digest = digest or Digest()
    try:
        events = read_events(ledger.log, start, first)
    except DataError:
        return  # the audit reports it; no digest moves past an unreadable line
    digest.add(e for e in events if int(e.get("seq", -1)) < after.lines)
    digest.lines, digest.root = after.lines, after.range.root()
    signed.write(_file(ledger), digest.body(), key, DOMAIN)
