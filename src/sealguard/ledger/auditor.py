"""`sealguard log verify`: the whole log recomputed and held against every checkpoint (INV-D-03).

Every line must be canonical JSON with `seq` equal to its position, `ts` and `type`; a line that
is not JSON is allowed only as a torn fragment that the next event accounts for exactly. The
RFC 6962 tree is recomputed over every line, and each checkpoint (history and latest) must carry
a good signature of the log key, a size no larger than the log (else TRUNCATION) and, at that
size, the same root (else FORK); the `checkpoint` file must be the newest note of the history
(else ROLLBACK). The log is then held against what its witness keeps (see anchor.py). The log,
checkpoint and history are never read through a symlink (SYMLINK), and appends wait while the
checkpoints, the witness and the log are read, so that they are read at one moment.

The log is read once, in forked workers (scan.py). The fast audit (`log verify` without
`--full`) does not check again the lines under the newest checkpoint, since every checkpoint is
then signed by the log key over exactly those bytes; as soon as anything is found, it checks
them too, so that a report with problems is always the full one.
"""

import fcntl
import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealguard.fleet import held
from sealguard.ledger import anchor, files, note, pending
from sealguard.ledger.compact import Span
from sealguard.ledger.layout import Ledger
from sealguard.ledger.lines import LightScan, LineChecker
from sealguard.ledger.merkle import CompactRange, leaf_hash
from sealguard.ledger.problem import Problem
from sealguard.ledger.reader import read_first_event
from sealguard.ledger.scan import RangeScan, check_lines, scan_log

PARALLEL_FROM = 8 << 20  # bytes; a smaller log is checked in-process, faster than forking
__all__ = ["LogReport", "Problem", "audit"]


@dataclass
class LogReport:
    lines: int = 0
    length: int = 0  # bytes of complete lines
    root: bytes = b""
    checkpoints: int = 0
    latest: int | None = None  # size of the newest checkpoint
    torn_tails: list[int] = field(default_factory=list)  # lines that are accounted fragments
    pending_tail: int = 0  # bytes after the last newline, not yet accounted for
    unpublished: int = 0  # lines a writer announced and wrote, awaiting their checkpoint (a crash)
    problems: list[Problem] = field(default_factory=list)
    # what the next audit may start from (ledger/verified.py): the tree at the newest checkpoint
    # and where its lines end, and the witness announcements read on the way
    published: CompactRange | None = None
    published_offset: int = 0
    witnesses: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    def first_problem(self) -> Problem | None:
        located = [p for p in self.problems if p.line is not None]
        return (
            min(located, key=lambda p: p.line or 0)
            if located
            else (self.problems[0] if self.problems else None)
        )


@dataclass(frozen=True)
class _Source:
    name: str  # where the checkpoint was read, for messages
    checkpoint: note.Checkpoint


class _Tree:
    """Grows the RFC 6962 tree over the lines; keeps roots and byte offsets at wanted sizes."""

    def __init__(
        self, wanted: set[int], start: CompactRange | None = None, offset: int = 0
    ) -> None:
        self.wanted = wanted
        self.tree = start.copy() if start else CompactRange()
        self.roots: dict[int, bytes] = {self.tree.size: self.tree.root()}
        self.offsets: dict[int, int] = {self.tree.size: offset}  # where line `size` starts
        self.last = max(wanted, default=0)
        self.at_last = self.tree.copy() if self.tree.size == self.last else None

    def batch(self, lines: list[bytes], offset: int) -> None:
        tree, wanted = self.tree, self.wanted
        for line in lines:
            tree.push(leaf_hash(line))
            offset += len(line) + 1
            if tree.size in wanted:
                self.roots[tree.size] = tree.root()
                self.offsets[tree.size] = offset
                if tree.size == self.last:
                    self.at_last = tree.copy()

    def join(self, ranges: list[RangeScan]) -> None:
        """The whole tree from the ranges' spans (in order), with the roots at wanted sizes."""
        whole = Span.of(self.tree)
        for scanned in ranges:
            for size, part in scanned.marks.items():
                at = whole.join(part)
                self.roots[size] = at.root()
                if size == self.last:
                    self.at_last = at.compact()
            self.offsets |= scanned.offsets
            whole = whole.join(scanned.span)
        self.tree = whole.compact()


def _not_regular(path: Path) -> Problem | None:
    if path.is_symlink():
        return Problem("SYMLINK", files.symlink_error(path).message)
    if path.exists() and not path.is_file():
        return Problem("SPECIAL", files.special_error(path).message)
    return None


def _strange_files(ledger: Ledger) -> list[Problem]:
    """The log, checkpoint and history must be regular files: nothing else is read."""
    found = [_not_regular(path) for path in (ledger.log, ledger.checkpoint, ledger.history)]
    return [problem for problem in found if problem is not None]


@contextmanager
def appends_held(ledger: Ledger) -> Iterator[None]:
    """A shared lock on the log: writers (who hold it exclusively) wait until the audit ends."""
    try:
        fd = files.open_fd(ledger.log, os.O_RDONLY)
    except FileNotFoundError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


@dataclass
class _Local:
    """The local checkpoints: every note of the history, and the `checkpoint` file."""

    history: list[_Source] = field(default_factory=list)
    latest: _Source | None = None
    latest_state: str = "missing"  # "read", "missing" or "unreadable"

    @property
    def sources(self) -> list[_Source]:
        return self.history + ([self.latest] if self.latest else [])


def _notes(path: Path, is_history: bool) -> list[str]:
    if _not_regular(path):
        return []  # reported, never read
    try:
        text = files.read_bytes(path).decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return note.split_history(text) if is_history else [text]


def _read_checkpoints(ledger: Ledger, report: LogReport) -> _Local:
    local = _Local()
    for path, is_history in ((ledger.history, True), (ledger.checkpoint, False)):
        for number, body in enumerate(_notes(path, is_history), start=1):
            name = f"{path.name} #{number}" if is_history else path.name
            try:
                source = _Source(name, note.parse(body))
            except note.NoteError as exc:
                report.problems.append(
                    Problem("CHECKPOINT", f"{name}: unreadable checkpoint: {exc}")
                )
                if not is_history:
                    local.latest_state = "unreadable"
                continue
            if is_history:
                local.history.append(source)
            else:
                local.latest, local.latest_state = source, "read"
    return local


def _check_latest(
    ledger: Ledger, local: _Local, key: tuple[str, bytes] | None, report: LogReport
) -> None:
    """ROLLBACK unless the `checkpoint` file is the newest note of the history.

    One state is a crash's, not a rollback: the history one note ahead of the `checkpoint` file
    (a crash between the two writes), with the writer's signed intent starting where that file
    ends. A rolled-back copy of that very state shows nothing a crash would not.
    """
    if local.latest_state == "unreadable" or not local.history:
        return
    newest = local.history[-1].checkpoint
    latest = local.latest.checkpoint if local.latest else None
    if latest is not None and (latest.size, latest.root) == (newest.size, newest.root):
        return
    if latest is not None and latest.size > newest.size:
        report.problems.append(
            Problem(
                "ROLLBACK",
                f"checkpoint.history ends at size {newest.size}, older than checkpoint "
                f"(size {latest.size}): the history was cut back",
            )
        )
        return
    if _crash_between_writes(ledger, local, latest, key):
        return
    size = latest.size if latest else "none"
    report.problems.append(
        Problem(
            "ROLLBACK",
            f"checkpoint (size {size}) is not the newest note of checkpoint.history "
            f"(size {newest.size}): the latest checkpoint was rolled back",
        )
    )


def _crash_between_writes(
    ledger: Ledger, local: _Local, latest: note.Checkpoint | None, key: tuple[str, bytes] | None
) -> bool:
    before = local.history[-2].checkpoint if len(local.history) > 1 else None
    if (latest is None) != (before is None):
        return False
    if (
        latest is not None
        and before is not None
        and (latest.size, latest.root)
        != (
            before.size,
            before.root,
        )
    ):
        return False
    intent = pending.read(ledger, key[1]) if key else None
    return intent is not None and intent.base == (latest.size if latest else 0)


def _verifier_key(first: dict[str, Any] | None) -> str:
    """The verifier key line 1 names; KeyError or TypeError when it names none."""
    if first is None:
        raise KeyError("no first event")
    return str(first["log_key"]["verifier_key"])


def _log_key(first: dict[str, Any] | None, report: LogReport) -> tuple[str, bytes] | None:
    try:
        return note.parse_verifier_key(_verifier_key(first))
    except (KeyError, TypeError, note.NoteError) as exc:
        report.problems.append(
            Problem("KEY", f"line 1: the first event does not carry a usable log key ({exc})", 1)
        )
        return None


def _first_event(ledger: Ledger) -> dict[str, Any] | None:
    try:
        return read_first_event(ledger.log)
    except FileNotFoundError:
        return None


def _origin(first: dict[str, Any] | None) -> str | None:
    try:
        return note.parse_verifier_key(_verifier_key(first))[0]
    except (KeyError, TypeError, note.NoteError):
        return None


def _hold(
    sources: list[_Source], scan: _Tree, key: tuple[str, bytes] | None, report: LogReport
) -> None:
    previous: dict[str, int] = {}
    for source in sources:
        cp, where = source.checkpoint, source.name
        if key is not None and (cp.origin != key[0] or not note.signed_by(cp, *key)):
            report.problems.append(
                Problem(
                    "SIGNATURE",
                    f"{where}: not signed by the log key of line 1 (origin {cp.origin})",
                )
            )
        history = where.rsplit(" #", 1)[0]
        if cp.size < previous.get(history, 0):
            report.problems.append(
                Problem(
                    "ROLLBACK", f"{where}: size {cp.size} is smaller than an earlier checkpoint's"
                )
            )
        previous[history] = max(previous.get(history, 0), cp.size)
        if cp.size > report.lines:
            report.problems.append(
                Problem(
                    "TRUNCATION",
                    f"{where}: covers {cp.size} lines but the log holds {report.lines}",
                    report.lines + 1,
                )
            )
        elif scan.roots.get(cp.size) != cp.root:
            report.problems.append(
                Problem(
                    "FORK",
                    _fork_message(where, cp.size, sources, scan),
                    _fork_line(cp.size, sources, scan),
                )
            )
    report.checkpoints = len({s.checkpoint.note() for s in sources})  # distinct notes
    report.latest = max((s.checkpoint.size for s in sources), default=None)


def _last_good_size(size: int, sources: list[_Source], scan: _Tree) -> int:
    good = [
        s.checkpoint.size
        for s in sources
        if s.checkpoint.size < size and scan.roots.get(s.checkpoint.size) == s.checkpoint.root
    ]
    return max(good, default=0)


def _fork_line(size: int, sources: list[_Source], scan: _Tree) -> int:
    return _last_good_size(size, sources, scan) + 1


def _fork_message(where: str, size: int, sources: list[_Source], scan: _Tree) -> str:
    low = _last_good_size(size, sources, scan) + 1
    lines = f"line {size}" if low == size else f"lines {low}-{size}"
    return (
        f"{where}: the log's first {size} lines have another root than this checkpoint: "
        f"FORK ({lines} altered, inserted or removed)"
    )


def _check_unsigned(
    ledger: Ledger, published: int, scan: _Tree, key: tuple[str, bytes] | None, report: LogReport
) -> None:
    """Bytes after the last local checkpoint are a crash's leftovers only if announced."""
    start = scan.offsets.get(published)
    if start is None or published > report.lines or not report.length + report.pending_tail:
        return  # TRUNCATION already reported, or no log to read
    with files.open_read(ledger.log) as stream:
        stream.seek(start)
        tail = stream.read()
    if not tail:
        return
    intent = pending.read(ledger, key[1]) if key else None
    if intent is not None and intent.covers(published, start, tail):
        report.unpublished = report.lines - published
        return
    report.problems.append(
        Problem(
            "UNSIGNED",
            f"line {published + 1} onwards ({len(tail)} bytes) follows the last checkpoint but was "
            "not announced by a sealguard writer",
            published + 1,
        )
    )


@dataclass
class _Lines:
    """What the line checks found: problems, accounted fragments, witness announcements."""

    problems: list[Problem] = field(default_factory=list)
    torn_tails: list[int] = field(default_factory=list)
    witnesses: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (line, event)

    def add(self, checker: LineChecker, light: LightScan | None = None) -> None:
        if light is not None:  # the lightly scanned lines come before the checked ones
            self.torn_tails += light.torn_tails
            self.witnesses += light.witnesses
        self.problems += [Problem("LINE", p.message, p.line) for p in checker.problems]
        self.torn_tails += checker.torn_tails
        self.witnesses += checker.witnesses


def _jobs(ledger: Ledger, jobs: int) -> int:
    """A log smaller than PARALLEL_FROM is read in-process: faster than forking."""
    size = ledger.log.stat().st_size if ledger.log.exists() else 0
    return jobs if size >= PARALLEL_FROM else 1


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Millions of short-lived, acyclic objects: the cycle collector only slows them down (and
    forked workers inherit it switched off)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _warm_signatures(local: _Local, first: dict[str, Any] | None) -> None:
    """Check the checkpoints' signatures while the workers read the log: `_hold` then finds the
    answers remembered (note.verifies), unless there are more than it remembers."""
    if len(local.sources) > (note.verifies.cache_info().maxsize or 0):
        return
    try:
        key = note.parse_verifier_key(_verifier_key(first))
    except (KeyError, TypeError, note.NoteError):
        return
    for source in local.sources:
        note.signed_by(source.checkpoint, *key)


def _scan(
    ledger: Ledger,
    jobs: int,
    tree: _Tree,
    report: LogReport,
    light_below: int = 0,
    *,
    meanwhile: Callable[[], object] = lambda: None,
) -> _Lines:
    """The tree and every line, read once; lines before `light_below` only searched."""
    wanted = sorted(tree.wanted)
    with no_cycle_collection():
        ranges, tail = scan_log(ledger.log, _jobs(ledger, jobs), wanted, light_below, meanwhile)
    tree.join(ranges)
    found = _Lines()
    for scanned in ranges:
        found.add(scanned.checker, scanned.light)
    report.pending_tail = len(tail)
    report.lines, report.root = tree.tree.size, tree.tree.root()
    report.length = _length(ledger, report)
    return found


def _checked_in_full(ledger: Ledger, jobs: int) -> _Lines:
    found = _Lines()
    with no_cycle_collection():
        checkers = check_lines(ledger.log, _jobs(ledger, jobs))
    for checker in checkers:
        found.add(checker)
    return found


def _checkpoint_checks(
    ledger: Ledger, local: _Local, first: dict[str, Any] | None, tree: _Tree, report: LogReport
) -> tuple[tuple[str, bytes] | None, list[Problem]]:
    """The log key; every checkpoint held against the tree, the latest against the history, and
    the bytes after the last one: the problems found, taken out of `report`."""
    before = len(report.problems)
    key = _log_key(first, report) if report.lines else None
    _hold(local.sources, tree, key, report)
    _check_latest(ledger, local, key, report)
    published = max((s.checkpoint.size for s in local.sources), default=0)
    _check_unsigned(ledger, published, tree, key, report)
    found = report.problems[before:]
    del report.problems[before:]
    return key, found


@dataclass(frozen=True)
class Witnesses:
    """What the log's witnesses keep of it, read before the log: the witness folder's, and the
    fleet database's."""

    folder: anchor.View | None
    fleet: held.Held | None

    @classmethod
    def read(cls, ledger: Ledger, origin: str | None) -> "Witnesses":
        return cls(anchor.view(ledger, origin), held.view(ledger, origin))

    def sizes(self) -> set[int]:
        """The sizes the log's tree must give a root at."""
        found = {self.folder.record.size} if self.folder and self.folder.record else set()
        if self.fleet is not None and self.fleet.size:
            found.add(self.fleet.size)
        return found


def _witness_checks(
    seen: Witnesses,
    first: dict[str, Any] | None,
    key: tuple[str, bytes] | None,
    tree: _Tree,
    found: _Lines,
) -> list[Problem]:
    origin = _origin(first) if key else None
    facts = anchor.LogFacts(
        origin,
        _verifier_key(first) if key else None,
        tree.tree.size,
        tree.roots.get,
        found.witnesses,
    )
    return anchor.hold(seen.folder, facts) + held.hold(
        seen.fleet, origin, tree.tree.size, tree.roots.get
    )


def audit(ledger: Ledger, jobs: int = 1, full: bool = True) -> LogReport:
    """Recompute and check the whole log; the report lists every problem found.

    With `full` false, the lines that the newest checkpoint covers are not checked again when
    every checkpoint is signed by the log key and matches the tree (see LightScan); whenever
    anything at all is found, they are, so that the report is the full one.
    """
    report = LogReport(problems=_strange_files(ledger))
    if _not_regular(ledger.log):
        return report  # nothing is read through it
    with appends_held(ledger):
        local = _read_checkpoints(ledger, report)
        first = _first_event(ledger)
        seen = Witnesses.read(ledger, _origin(first))  # what the witnesses keep, before the log
        tree = _Tree({s.checkpoint.size for s in local.sources} | seen.sizes())
        published = max((s.checkpoint.size for s in local.sources), default=0)
        light_below = 0 if full or report.problems else published
        warm = lambda: _warm_signatures(local, first)  # noqa: E731
        found = _scan(ledger, jobs, tree, report, light_below, meanwhile=warm)
        key, checks = _checkpoint_checks(ledger, local, first, tree, report)
        witness = _witness_checks(seen, first, key, tree, found)
        if light_below and (found.problems or checks or witness):  # the report must be full
            found = _checked_in_full(ledger, jobs)
            witness = _witness_checks(seen, first, key, tree, found)
        report.problems += found.problems + checks + witness
        report.torn_tails = found.torn_tails
        _keep_published(report, tree, published, found.witnesses)
    report.problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return report


def _keep_published(
    report: LogReport, tree: _Tree, published: int, announced: list[tuple[int, dict[str, Any]]]
) -> None:
    if tree.at_last is not None and tree.at_last.size == published:
        report.published, report.published_offset = tree.at_last, tree.offsets[published]
    report.witnesses = announced


def _length(ledger: Ledger, report: LogReport) -> int:
    return (ledger.log.stat().st_size if ledger.log.exists() else 0) - report.pending_tail
