"""`sealguard log verify --url`: a log the fleet database keeps, checked from its own rows.

The database is the witness, not the authority: its rows are checked against the host's log key,
not believed. Every row's seq must follow the last from 0 without a gap; its leaf must be
SHA-256(0x00 || line) (an edit of `line` alone shows here); every line must pass the line checks
of the file audit (ledger/lines.py); the RFC 6962 tree is recomputed from the lines (never from
the stored leaves), and every accepted checkpoint must be a note signed by the log key the
database enrolled, naming the log's origin, with the tree's root at its size (an edit of a
line and its leaf together shows here); `logs.size` and `logs.frontier` must be the lines' count
and tree; no line may follow the last accepted checkpoint (nothing signed it). A refusal since
the last acceptance means a host submitted another history: REFUSED.

Pure: the rows come in seq ranges (fleet/verification.py reads them, in forked workers for a
large log); each range gives its span of the tree with a copy at the checkpoints' sizes
(compact.py), as the file audit's ranges do (scan.py), and `judge` joins them in order.
"""

import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sealguard.fleet.entries import Bounds, CheckpointRow, LogRow, RefusalRow, Rows
from sealguard.ledger import note
from sealguard.ledger.canonical import DECODE_ERRORS, decode_line
from sealguard.ledger.compact import Span, leaf_hashes
from sealguard.ledger.lines import BATCH_LINES, LineChecker
from sealguard.ledger.merkle import EMPTY_ROOT, CompactRange
from sealguard.ledger.problem import Problem


@dataclass
class _Checker(LineChecker):
    """The file audit's line checks, noting whether a line was a torn fragment: only then do
    the lines' byte offsets in the file matter (a torn_tail event records one)."""

    fragments: int = 0

    def line(self, index: int, line: bytes, offset: int) -> None:
        super().line(index, line, offset)
        if self.fragment is not None and self.fragment[0] == index:
            self.fragments += 1


@dataclass
class SeqRange:
    """What the rows with seq in [start, stop) gave."""

    start: int
    stop: int
    span: Span
    marks: dict[int, Span] = field(default_factory=dict)  # the span at each wanted size
    checker: _Checker = field(default_factory=_Checker)
    problems: list[Problem] = field(default_factory=list)  # SEQ and LEAF
    whole: bool = True  # every seq of the range was there: the span covers it

    @property
    def needs_offsets(self) -> bool:
        return self.checker.fragments > 0 or self.checker.fragment is not None


def _runs(seqs: tuple[int, ...]) -> Iterator[tuple[int, int]]:
    """(i, j): the stretches seqs[i:j] that count up by one."""
    i = 0
    for j in range(1, len(seqs) + 1):
        if j == len(seqs) or seqs[j] != seqs[j - 1] + 1:
            yield i, j
            i = j


def _lines_text(low: int, high: int) -> str:
    return f"line {low}" if low == high else f"lines {low}-{high}"


@dataclass
class _Scan:
    """Checks rows in seq order, batch by batch, into a SeqRange."""

    result: SeqRange
    wanted: list[int]  # ascending
    offset: int  # where the next line starts in the log file
    expected: int = -1  # the next seq

    def __post_init__(self) -> None:
        self.expected = self.result.start

    def batch(self, rows: Rows) -> None:
        seqs, lines, leaves = zip(*rows, strict=True)  # bytea comes as bytes
        for i, j in _runs(seqs):
            self._stretch(seqs[i], list(lines[i:j]), list(leaves[i:j]))

    def _stretch(self, first: int, lines: list[bytes], stored: list[bytes]) -> None:
        if first != self.expected:
            self._gap(self.expected, first)
        computed = leaf_hashes(lines)
        if computed != stored:
            self._leaves(first, computed, stored)
        if b"\n" in b"".join(lines):
            self._newlines(first, lines)
        if self.result.whole:
            self._hash(first, computed)
        self.result.checker.next_index = first
        for k in range(0, len(lines), BATCH_LINES):
            batch = lines[k : k + BATCH_LINES]
            self.result.checker.batch(batch, self.offset)
            self.offset += sum(map(len, batch)) + len(batch)
        self.expected = first + len(lines)

    def _hash(self, first: int, leaves: list[bytes]) -> None:
        span = self.result.span
        marks = [s for s in self.wanted if first < s <= first + len(leaves)]
        self.result.marks |= span.extend(leaves, marks)

    def _gap(self, expected: int, found: int) -> None:
        """Rows missing (a line deleted): the tree cannot be recomputed past them."""
        self.result.whole = False
        seqs = f"seq {expected}" if found == expected + 1 else f"seq {expected}-{found - 1}"
        self.result.problems.append(
            Problem(
                "SEQ",
                f"{_lines_text(expected + 1, found)} ({seqs}) missing: the database's lines are "
                "not gap-free",
                expected + 1,
            )
        )

    def _leaves(self, first: int, computed: list[bytes], stored: list[bytes]) -> None:
        for k, (mine, theirs) in enumerate(zip(computed, stored, strict=True)):
            if mine != theirs:
                self.result.problems.append(
                    Problem(
                        "LEAF",
                        f"line {first + k + 1}: the stored leaf is not SHA-256(0x00 || line): "
                        "the line or its leaf was edited in the database",
                        first + k + 1,
                    )
                )

    def _newlines(self, first: int, lines: list[bytes]) -> None:
        for k, line in enumerate(lines):
            if b"\n" in line:
                self.result.problems.append(
                    Problem(
                        "LINE",
                        f"line {first + k + 1}: holds a newline, which no log line can",
                        first + k + 1,
                    )
                )

    def finish(self) -> None:
        if self.expected < self.result.stop:
            self._gap(self.expected, self.result.stop)


def check_rows(
    batches: Iterable[Rows], start: int, stop: int, wanted: Iterable[int], offset: int = 0
) -> SeqRange:
    """The checks of the rows with seq in [start, stop), given in seq order; `offset` is where
    line `start` begins in the log file (0 will do unless `needs_offsets` says otherwise)."""
    result = SeqRange(start, stop, Span.starting(start), checker=_Checker(first=start))
    scan = _Scan(result, sorted(wanted), offset)
    for rows in batches:
        scan.batch(rows)
    scan.finish()
    return result


# ----- judging the whole log from its ranges (pure) ---------------------------------------------


@dataclass
class LogAudit:
    """A log of the fleet database, checked."""

    origin: str
    name: str  # "<project> on <host>"
    lines: int = 0
    root: bytes = EMPTY_ROOT
    checkpoints: int = 0
    latest: int | None = None  # size of the newest accepted checkpoint
    torn_tails: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    retired: str | None = None  # "at T by ROLE (reason)"

    @property
    def intact(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Facts:
    """What was read of one log besides its lines, at the same moment."""

    held: LogRow
    checkpoints: list[CheckpointRow]
    refusals: list[RefusalRow]
    bounds: Bounds
    first_line: bytes | None


@dataclass
class _Tree:
    roots: dict[int, bytes]
    size: int  # the lines the tree was recomputed over (short of the log after a gap)
    compact: CompactRange


def _join(ranges: list[SeqRange]) -> _Tree:
    whole = Span.starting(0)
    roots = {0: EMPTY_ROOT}
    for scanned in sorted(ranges, key=lambda r: r.start):
        if scanned.span.begin != whole.end:
            break  # after a gap: no root can be recomputed
        for size, part in scanned.marks.items():
            roots[size] = whole.join(part).root()
        whole = whole.join(scanned.span)
        if not scanned.whole:
            break
    return _Tree(roots, whole.end, whole.compact())


def _key(facts: Facts, found: list[Problem]) -> tuple[str, bytes] | None:
    """The enrolled log key, which must be the one line 1 names, named for the origin."""
    held = facts.held
    if facts.first_line is not None and _named_key(facts.first_line) != held.log_key:
        found.append(Problem("KEY", "line 1: does not name the log key the database enrolled", 1))
    try:
        name, public = note.parse_verifier_key(held.log_key)
    except note.NoteError as exc:
        found.append(Problem("KEY", f"the enrolled log key {held.log_key!r} is unusable ({exc})"))
        return None
    if name != held.origin:
        found.append(Problem("KEY", f"the enrolled log key is named {name}, not the origin"))
    return name, public


def _named_key(line: bytes) -> Any:
    try:
        event = decode_line(line)
    except DECODE_ERRORS:
        return None
    return event.get("log_key", {}).get("verifier_key") if isinstance(event, dict) else None


def _checkpoint(
    row: CheckpointRow, facts: Facts, key: tuple[str, bytes] | None, tree: _Tree, lines: int
) -> list[Problem]:
    where = f"the checkpoint accepted at {row.size} lines"
    try:
        cp = note.parse(row.note)
    except note.NoteError as exc:
        return [Problem("CHECKPOINT", f"{where}: unreadable note: {exc}")]
    found = []
    if key is not None and not note.signed_by(cp, *key):
        found.append(Problem("SIGNATURE", f"{where}: not signed by the enrolled log key"))
    if (cp.origin, cp.size, cp.root) != (facts.held.origin, row.size, row.root):
        found.append(
            Problem(
                "CHECKPOINT",
                f"{where}: its note says {cp.origin} at {cp.size} lines, root "
                f"{base64.b64encode(cp.root).decode()}: not the row's origin, size and root",
            )
        )
        return found  # the note is judged by its own size no further
    if cp.size > lines:
        found.append(
            Problem(
                "TRUNCATION", f"{where}: covers {cp.size} lines but the database holds {lines}",
                lines + 1,
            )
        )  # fmt: skip
    elif cp.size <= tree.size and tree.roots.get(cp.size) != cp.root:
        found.append(_fork(where, cp.size, facts, tree))
    return found


def _fork(where: str, size: int, facts: Facts, tree: _Tree) -> Problem:
    good = [c.size for c in facts.checkpoints if c.size < size and tree.roots.get(c.size) == c.root]
    low = max(good, default=0) + 1
    return Problem(
        "FORK",
        f"{where}: the database's first {size} lines have another root than this checkpoint "
        f"({_lines_text(low, size)} altered)",
        low,
    )


def _counts(facts: Facts, tree: _Tree, lines: int) -> list[Problem]:
    held, found = facts.held, []
    if held.size != lines:
        found.append(Problem("SIZE", f"logs.size says {held.size} lines, the entries hold {lines}"))
    elif tree.size == lines and tuple(tree.compact.hashes) != held.frontier:
        found.append(Problem("SIZE", "logs.frontier is not the tree of the lines"))
    if facts.bounds.low is not None and facts.bounds.low < 0:
        found.append(Problem("SEQ", f"an entry has the seq {facts.bounds.low}"))
    latest = max((c.size for c in facts.checkpoints), default=0)
    if lines > latest:
        one = lines == latest + 1
        found.append(
            Problem(
                "UNSIGNED",
                f"{_lines_text(latest + 1, lines)} follow{'s' if one else ''} the last accepted "
                f"checkpoint: no checkpoint signed by the log key covers {'it' if one else 'them'}",
                latest + 1,
            )
        )
    return found


def _refused(facts: Facts) -> list[Problem]:
    """A refusal since the last acceptance; none for a retired log (its owner decided about
    it: the refusals stay in the database, on the report page)."""
    if facts.held.retired is not None:
        return []
    return [
        Problem("REFUSED", f"refused a submission at {r.at:%Y-%m-%dT%H:%M:%SZ}: {r.reason}")
        for r in facts.refusals
    ]


def judge(facts: Facts, ranges: list[SeqRange]) -> LogAudit:
    """Every problem of the log, from its rows' ranges and the rest read with them."""
    held = facts.held
    report = LogAudit(held.origin, held.name, retired=held.retired)
    lines = facts.bounds.stop
    tree = _join(ranges)
    for scanned in sorted(ranges, key=lambda r: r.start):
        report.problems += scanned.problems
        report.problems += [Problem("LINE", p.message, p.line) for p in scanned.checker.problems]
        report.torn_tails += scanned.checker.torn_tails
    key = _key(facts, report.problems)
    for row in facts.checkpoints:
        report.problems += _checkpoint(row, facts, key, tree, lines)
    report.problems += _counts(facts, tree, lines) + _refused(facts)
    report.problems.sort(key=lambda p: (p.line is None, p.line or 0))
    report.lines, report.root = lines, tree.compact.root() if tree.size == lines else b""
    report.checkpoints = len(facts.checkpoints)
    report.latest = max((c.size for c in facts.checkpoints), default=None)
    return report
