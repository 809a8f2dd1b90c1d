"""`sealguard log verify`: the whole log recomputed and held against every checkpoint (INV-D-03).

Every line must be canonical JSON with `seq` equal to its position, `ts` and `type`; a line that
is not JSON is allowed only as a torn fragment that the next event accounts for exactly. The
RFC 6962 tree is recomputed over every line, and each checkpoint (history, latest, witness)
must carry a good signature of the log key, a size no larger than the log (else TRUNCATION)
and, at that size, the same root (else FORK).
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealguard.ledger import note, pending
from sealguard.ledger.canonical import all_canonical, canonical_problem, decode_line
from sealguard.ledger.layout import Ledger
from sealguard.ledger.merkle import CompactRange, leaf_hash

CHUNK_LINES = 8192


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


def _batches(log: Path, tail: list[bytes]) -> Iterator[tuple[list[bytes], int]]:
    """Batches of complete lines with the byte offset of their first; bytes after the last
    newline (a torn write) are left in `tail`. A missing log has no lines."""
    pending, offset = b"", 0
    try:
        stream = log.open("rb")
    except FileNotFoundError:
        tail.append(b"")
        return
    with stream:
        while chunk := stream.read(1 << 22):
            parts = (pending + chunk).split(b"\n")
            pending = parts.pop()
            for start in range(0, len(parts), CHUNK_LINES):
                batch = parts[start : start + CHUNK_LINES]
                yield batch, offset
                offset += sum(len(line) for line in batch) + len(batch)
    tail.append(pending)


class _Scan:
    """Walks the lines once: checks each, grows the tree, keeps the roots at wanted sizes."""

    def __init__(self, report: LogReport, wanted: set[int]) -> None:
        self.report, self.wanted = report, wanted
        self.tree = CompactRange()
        self.roots: dict[int, bytes] = {0: self.tree.root()} if 0 in wanted else {}
        self.offsets: dict[int, int] = {
            0: 0
        }  # byte offset where line `size` starts, at wanted sizes
        self.fragment: tuple[int, int, bytes] | None = (
            None  # (index, offset, bytes) awaiting its event
        )
        self.first_event: dict[str, Any] | None = None

    def problem(self, index: int, message: str) -> None:
        self.report.problems.append(Problem("LINE", f"line {index + 1}: {message}", index + 1))

    def _all_good(self, lines: list[bytes], start: int) -> bool:
        """The fast path: the whole batch canonical, numbered and typed, checked in bulk."""
        values = all_canonical(lines) if self.fragment is None else None
        if values is None:
            return False
        seqs = [v.get("seq") if isinstance(v, dict) else None for v in values]
        if seqs != list(range(start, start + len(lines))):
            return False
        if not all(isinstance(v.get("type"), str) and isinstance(v.get("ts"), str) for v in values):
            return False
        if start == 0 and values:
            self.first_event = values[0]
        return True

    def batch(self, lines: list[bytes], offset: int) -> None:
        start = self.tree.size
        if not self._all_good(lines, start):
            at = offset
            for i, line in enumerate(lines):
                self.line(start + i, line, at)
                at += len(line) + 1
        for line in lines:
            self.tree.push(leaf_hash(line))
            offset += len(line) + 1
            if self.tree.size in self.wanted:
                self.roots[self.tree.size] = self.tree.root()
                self.offsets[self.tree.size] = offset

    def line(self, index: int, line: bytes, offset: int) -> None:
        problem = canonical_problem(line)
        if problem is not None and problem.startswith("not JSON"):
            if self.fragment is not None:
                self.problem(
                    self.fragment[0], "not a JSON event, and no torn_tail event accounts for it"
                )
            self.fragment = (index, offset, line)
            return
        event = decode_line(line) if problem is None else None
        self._account(index, event)
        if problem is not None or not isinstance(event, dict):
            self.problem(index, problem or "not a JSON object")
            return
        if index == 0:
            self.first_event = event
        if event.get("seq") != index:
            seq = event.get("seq")
            self.problem(
                index, f"seq is {seq!r}, expected {index} (a line removed, inserted or moved?)"
            )
        elif not isinstance(event.get("type"), str) or not isinstance(event.get("ts"), str):
            self.problem(index, "an event needs a string `type` and `ts`")

    def _account(self, index: int, event: Any) -> None:
        if self.fragment is None:
            return
        frag_index, frag_offset, data = self.fragment
        self.fragment = None
        expected = {
            "line": frag_index,
            "offset": frag_offset,
            "length": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        if (
            isinstance(event, dict)
            and event.get("type") == "torn_tail"
            and event.get("fragment") == expected
        ):
            self.report.torn_tails.append(frag_index + 1)
        else:
            self.problem(frag_index, "not a JSON event, and no torn_tail event accounts for it")


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
    sources: list[_Source], scan: _Scan, key: tuple[str, bytes] | None, report: LogReport
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


def _last_good_size(size: int, sources: list[_Source], scan: _Scan) -> int:
    good = [
        s.checkpoint.size
        for s in sources
        if s.checkpoint.size < size and scan.roots.get(s.checkpoint.size) == s.checkpoint.root
    ]
    return max(good, default=0)


def _fork_line(size: int, sources: list[_Source], scan: _Scan) -> int:
    return _last_good_size(size, sources, scan) + 1


def _fork_message(where: str, size: int, sources: list[_Source], scan: _Scan) -> str:
    low = _last_good_size(size, sources, scan) + 1
    lines = f"line {size}" if low == size else f"lines {low}-{size}"
    return (
        f"{where}: the log's first {size} lines have another root than this checkpoint: "
        f"FORK ({lines} altered, inserted or removed)"
    )


def _check_unsigned(
    ledger: Ledger, published: int, scan: _Scan, key: tuple[str, bytes] | None, report: LogReport
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


def audit(ledger: Ledger) -> LogReport:
    """Recompute and check the whole log; the report lists every problem found."""
    report = LogReport()
    sources = _read_checkpoints(ledger, report)
    scan = _Scan(report, {s.checkpoint.size for s in sources})
    tail: list[bytes] = []
    for lines, offset in _batches(ledger.log, tail):
        scan.batch(lines, offset)
        report.length = offset + sum(len(line) for line in lines) + len(lines)
    report.pending_tail = len(tail[0])
    if scan.fragment is not None:
        scan.problem(scan.fragment[0], "not a JSON event, and no torn_tail event accounts for it")
    report.lines, report.root = scan.tree.size, scan.tree.root()
    key = _log_key(scan.first_event, report) if report.lines else None
    _hold(sources, scan, key, report)
    local = [
        s.checkpoint.size
        for s in sources
        if s.name.split(" #")[0] in (ledger.history.name, ledger.checkpoint.name)
    ]
    _check_unsigned(ledger, max(local, default=0), scan, key, report)
    report.problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return report
