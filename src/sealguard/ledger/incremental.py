"""The audit an observation runs: the lines and checkpoints new since the last verified state,
checked fully; the prefix before them held by that state (ledger/verified.py).

Each run reads the log from where the verified state ends: every new line is checked as the
full audit checks it (canonical JSON, seq, type, ts, torn fragments), its leaves extend the
state's compact range, and every checkpoint note new in the history (and the `checkpoint` file)
must be signed by the log key, monotonic, and match the extended tree at its size; bytes after
the newest checkpoint must be announced, and the witness must hold a consistent extension.

A full audit (auditor.py) runs instead when there is no usable state (missing, not signed by the
log key, or the log or history touched by anything but a sealguard writer since), when the
policy says one is due (every N audits, or once the last is older than a set age), when the
witness holds a checkpoint older than the state, and whenever the incremental run finds a
problem: the full audit then confirms and describes it, so the two never disagree on a problem
the incremental run finds.
"""

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.errors import IntegrityError, LedgerFileError
from sealguard.ledger import files, journal, note, verified
from sealguard.ledger.auditor import (
    LogReport,
    Witnesses,
    _checkpoint_checks,
    _first_event,
    _keep_published,
    _Lines,
    _Local,
    _not_regular,
    _notes,
    _origin,
    _Source,
    _strange_files,
    _Tree,
    _witness_checks,
    appends_held,
    audit,
)
from sealguard.ledger.keys import load_key
from sealguard.ledger.layout import Ledger
from sealguard.ledger.lines import LineChecker, batches
from sealguard.ledger.problem import Problem


@dataclass(frozen=True)
class Policy:
    """When the incremental audit gives way to a full one."""

    every: int = 288  # incremental audits between two full ones (a day at one per 5 minutes)
    max_age: float = 86400.0  # seconds since the last full audit


FULL = Policy(every=0)


@dataclass
class Audited:
    report: LogReport
    full: bool  # the whole log was recomputed (False: only what is new since the state)
    why_full: str = ""  # why a full audit ran, when one did


def signing_key(ledger: Ledger) -> Ed25519PrivateKey | None:
    """The log key, when it can be read: the caches are signed with it."""
    try:
        return load_key(ledger.key_file)
    except (IntegrityError, LedgerFileError, OSError, ValueError):
        return None


def _due(state: verified.State, policy: Policy, now: datetime) -> str:
    if policy.every <= 0:
        return "asked for"
    if state.since_full + 1 >= policy.every:
        return f"a full audit is due every {policy.every} audits"
    try:
        last = datetime.fromisoformat(state.full_at)
    except ValueError:
        return "no full audit is recorded"
    if now - last >= timedelta(seconds=policy.max_age):
        return f"the last full audit is older than {policy.max_age / 3600:g} h"
    return ""


def audit_log(
    ledger: Ledger, jobs: int = 1, policy: Policy = FULL, now: datetime | None = None
) -> Audited:
    """The log's audit: incremental when a verified state allows it and the policy does not
    ask for a full one; the verified state moves forward when the log is intact."""
    now = now or datetime.now(UTC)
    if _not_regular(ledger.log) or not ledger.log.exists():
        return Audited(audit(ledger, jobs), True, "no log to start from")
    key = signing_key(ledger)
    with appends_held(ledger):  # the log, history and caches hold still while read
        identities = (verified.identity(ledger.log), verified.identity(ledger.history))
        state = verified.load(ledger, key.public_key().public_bytes_raw()) if key else None
        why = (
            "asked for"
            if policy.every <= 0
            else "no verified state"
            if state is None
            else "the log or its history was written by something else since the last audit"
            if (state.log, state.history) != identities
            else _due(state, policy, now)
        )
        report = None if why or state is None else _incremental(ledger, state)
        if report is None or not report.intact:
            why = why or ("the incremental audit found a problem" if report else "the witness")
            report = audit(ledger, jobs)
            full = True
        else:
            full = False
        if key is not None and report.intact:
            _advance(ledger, key, report, state, identities, now=now, full=full)
    return Audited(report, full, why if full else "")


def _advance(
    ledger: Ledger,
    key: Ed25519PrivateKey,
    report: LogReport,
    state: verified.State | None,
    identities: tuple[verified.Identity | None, verified.Identity | None],
    *,
    now: datetime,
    full: bool,
) -> None:
    if report.published is None:
        return
    newest = _newest_note(ledger, report.published.size)
    if newest is None:
        return
    history = identities[1]
    moved = verified.State(
        lines=report.published.size,
        length=report.published_offset,
        range=report.published,
        note=newest,
        history_bytes=history[2] if history else 0,
        log=identities[0],
        history=history,
        checkpoints=report.checkpoints,
        witnesses=report.witnesses,
        full_at=now.isoformat() if full or state is None else state.full_at,
        since_full=0 if full or state is None else state.since_full + 1,
    )
    journal.advance(ledger, key, None if full else state, moved)  # before the state moves
    verified.save(ledger, moved, key)


def _newest_note(ledger: Ledger, size: int) -> str | None:
    """The `checkpoint` file's note when it is at `size` (the one the state is held to)."""
    try:
        checkpoint = note.parse(files.read_bytes(ledger.checkpoint).decode("utf-8", "replace"))
    except (OSError, LedgerFileError, note.NoteError):
        return None
    return checkpoint.note() if checkpoint.size == size else None


def _new_notes(ledger: Ledger, state: verified.State, report: LogReport) -> _Local | None:
    """The state's checkpoint, the history's notes after it, and the `checkpoint` file."""
    local = _Local()
    local.history.append(_Source("checkpoint.history (verified)", note.parse(state.note)))
    with files.open_read(ledger.history) as stream:
        stream.seek(state.history_bytes)
        text = stream.read().decode("utf-8", "replace")
    for number, body in enumerate(note.split_history(text) if text else [], start=1):
        try:
            local.history.append(_Source(f"checkpoint.history (new #{number})", note.parse(body)))
        except note.NoteError:
            return None  # the full audit names it
    for body in _notes(ledger.checkpoint, is_history=False):  # one small file, read whole
        try:
            local.latest, local.latest_state = _Source("checkpoint", note.parse(body)), "read"
        except note.NoteError as exc:
            report.problems.append(
                Problem("CHECKPOINT", f"checkpoint: unreadable checkpoint: {exc}")
            )
            local.latest_state = "unreadable"
    return local


def _incremental(ledger: Ledger, state: verified.State) -> LogReport | None:
    """The new lines and checkpoints, checked; None when only a full audit can answer."""
    report = LogReport(problems=_strange_files(ledger))
    if report.problems:
        return None
    local = _new_notes(ledger, state, report)
    first = _first_event(ledger)
    seen = Witnesses.read(ledger, _origin(first))
    if local is None or min(seen.sizes(), default=state.lines) < state.lines:
        return None  # a witness holds a tree older than the state: only a full audit has it
    tree = _Tree(
        {s.checkpoint.size for s in local.sources} | seen.sizes(), state.range, state.length
    )
    checker = LineChecker(first=state.lines)
    tail: list[bytes] = []
    for lines, offset in batches(ledger.log, tail, state.length):
        checker.batch(lines, offset)
        tree.batch(lines, offset)
    checker.finish()
    report.problems += [Problem("LINE", p.message, p.line) for p in checker.problems]
    report.torn_tails = checker.torn_tails
    report.pending_tail = len(tail[0]) if tail else 0
    report.lines, report.root = tree.tree.size, tree.tree.root()
    report.length = os.stat(ledger.log).st_size - report.pending_tail
    key, checks = _checkpoint_checks(ledger, local, first, tree, report)
    report.checkpoints = state.checkpoints + len(
        {s.checkpoint.note() for s in local.sources[1:]} - {state.note}
    )
    found = _Lines(witnesses=[*state.witnesses, *checker.witnesses])
    report.problems += checks + _witness_checks(seen, first, key, tree, found)
    published = max((s.checkpoint.size for s in local.sources), default=0)
    _keep_published(report, tree, published, found.witnesses)
    return report
