"""`sealguard log verify`: the whole log recomputed and held against every checkpoint (INV-D-03).

Every line must be canonical JSON with `seq` equal to its position, `ts` and `type`; a line that
is not JSON is allowed only as a torn fragment that the next event accounts for exactly. The
RFC 6962 tree is recomputed over every line, and each checkpoint (history, latest, witness)
must carry a good signature of the log key, a size no larger than the log (else TRUNCATION)
and, at that size, the same root (else FORK).
"""

import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealguard.ledger import note, pending
from sealguard.ledger.layout import Ledger
from sealguard.ledger.lines import READ_SIZE, LineChecker, batches
from sealguard.ledger.merkle import CompactRange, leaf_hash
from sealguard.workers import forked

PARALLEL_FROM = 8 << 20  # bytes; a smaller log is checked in-process, faster than forking


@dataclass(frozen=True)
class Problem:
    kind: str  # LINE, TRUNCATION, FORK, SIGNATURE, CHECKPOINT, ROLLBACK, KEY
    message: str
    line: int | None = None  # 1-based line of the log, where one is to blame


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

    def __init__(self, wanted: set[int]) -> None:
        self.wanted = wanted
        self.tree = CompactRange()
        self.roots: dict[int, bytes] = {0: self.tree.root()}
        self.offsets: dict[int, int] = {0: 0}  # where line `size` starts, at wanted sizes

    def batch(self, lines: list[bytes], offset: int) -> None:
        tree, wanted = self.tree, self.wanted
        for line in lines:
            tree.push(leaf_hash(line))
            offset += len(line) + 1
            if tree.size in wanted:
                self.roots[tree.size] = tree.root()
                self.offsets[tree.size] = offset


def _read_checkpoints(ledger: Ledger, report: LogReport) -> list[_Source]:
    found: list[_Source] = []
    places = [(ledger.history, True), (ledger.checkpoint, False)]
    if ledger.witness is not None:
        places += [
            (ledger.witness / "checkpoint.history", True),
            (ledger.witness / "checkpoint", False),
        ]
    for path, is_history in places:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if path.parent == ledger.witness:
                report.problems.append(
                    Problem("CHECKPOINT", f"{path}: the witness holds no checkpoint")
                )
            continue
        notes = note.split_history(text) if is_history else [text]
        shown = path.name if path.parent == ledger.folder else str(path)
        for number, body in enumerate(notes, start=1):
            name = f"{shown} #{number}" if is_history else shown
            try:
                found.append(_Source(name, note.parse(body)))
            except note.NoteError as exc:
                report.problems.append(
                    Problem("CHECKPOINT", f"{name}: unreadable checkpoint: {exc}")
                )
    return found


def _log_key(first: dict[str, Any] | None, report: LogReport) -> tuple[str, bytes] | None:
    try:
        assert first is not None
        return note.parse_verifier_key(first["log_key"]["verifier_key"])
    except (AssertionError, KeyError, TypeError, note.NoteError) as exc:
        report.problems.append(
            Problem("KEY", f"line 1: the first event does not carry a usable log key ({exc})", 1)
        )
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
    if start is None or published > report.lines:
        return  # TRUNCATION already reported
    with ledger.log.open("rb") as stream:
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


def _line_start(log: Path, target: int) -> int:
    """The offset of the first line starting at or after byte `target`."""
    with log.open("rb") as stream:
        stream.seek(max(target - 1, 0))
        stream.readline()
        return stream.tell() if target else 0


def _ranges(log: Path, jobs: int) -> list[tuple[int, int]]:
    """`jobs` byte ranges of whole lines covering the log (fewer when lines are long)."""
    size = log.stat().st_size
    starts = sorted({_line_start(log, size * k // jobs) for k in range(jobs)})
    return [(a, b) for a, b in zip(starts, [*starts[1:], size], strict=True) if a < b]


def _check_range(log: Path, start: int, stop: int) -> LineChecker:
    """The line checks of one range; a fragment at its end is settled with the next line."""
    index = 0
    with log.open("rb") as stream:  # the range's first line number: count the newlines before it
        while stream.tell() < start:
            index += stream.read(min(READ_SIZE, start - stream.tell())).count(b"\n")
    checker = LineChecker(first=index)
    for lines, offset in batches(log, [], start, stop):
        checker.batch(lines, offset)
    if checker.fragment is not None:
        for lines, offset in batches(log, [], stop):
            checker.batch(lines[:1], offset)
            break
    checker.finish()
    return checker


def _check_lines(ledger: Ledger, jobs: int, tree: _Tree, tail: list[bytes]) -> list[LineChecker]:
    """Line checks in forked workers while this process grows the tree; in-process when small."""
    size = ledger.log.stat().st_size if ledger.log.exists() else 0
    if jobs <= 1 or size < PARALLEL_FROM:
        checker = LineChecker()
        for lines, offset in batches(ledger.log, tail):
            checker.batch(lines, offset)
            tree.batch(lines, offset)
        checker.finish()
        return [checker]
    ranges = _ranges(ledger.log, jobs)
    work = lambda span: _check_range(ledger.log, *ranges[span[0]])  # noqa: E731
    with forked(work, [(i, i + 1) for i in range(len(ranges))], jobs) as results:
        for lines, offset in batches(ledger.log, tail):
            tree.batch(lines, offset)
        return sorted(results, key=lambda checker: checker.first)


def audit(ledger: Ledger, jobs: int = 1) -> LogReport:
    """Recompute and check the whole log; the report lists every problem found."""
    report = LogReport()
    sources = _read_checkpoints(ledger, report)
    tree = _Tree({s.checkpoint.size for s in sources})
    tail: list[bytes] = []
    collecting = gc.isenabled()
    gc.disable()  # millions of short-lived, acyclic dicts: the cycle collector only slows them down
    try:
        checkers = _check_lines(ledger, jobs, tree, tail)
    finally:
        if collecting:
            gc.enable()
    for checker in checkers:
        report.problems += [Problem("LINE", p.message, p.line) for p in checker.problems]
        report.torn_tails += checker.torn_tails
    report.pending_tail = len(tail[0]) if tail else 0
    report.lines, report.root = tree.tree.size, tree.tree.root()
    report.length = _length(ledger, report)
    key = _log_key(checkers[0].first_event, report) if report.lines else None
    _hold(sources, tree, key, report)
    local = [
        s.checkpoint.size
        for s in sources
        if s.name.split(" #")[0] in (ledger.history.name, ledger.checkpoint.name)
    ]
    _check_unsigned(ledger, max(local, default=0), tree, key, report)
    report.problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return report


def _length(ledger: Ledger, report: LogReport) -> int:
    return (ledger.log.stat().st_size if ledger.log.exists() else 0) - report.pending_tail
