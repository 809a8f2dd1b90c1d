"""One read of the whole log, split over forked workers: the tree and the lines of each range.

Each worker takes a byte range of whole lines and returns its span of the RFC 6962 tree
(compact.py) with a copy of it at every size the audit wants a root for (the checkpoints') and
where those lines start; and what it found in the lines: lines from `light_below` on are checked
in full (`LineChecker`), the ones before only searched (`LightScan`). Workers are forked, so a
range's result is all that crosses a pipe; the parent joins the spans in order.
"""

import bisect
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from sealguard.ledger import files
from sealguard.ledger.compact import Span, leaf_hashes
from sealguard.ledger.lines import BATCH_LINES, READ_SIZE, LightScan, LineChecker, batches, chunks
from sealguard.workers import forked


@dataclass
class RangeScan:
    """What one range of lines gave."""

    span: Span
    marks: dict[int, Span] = field(default_factory=dict)  # the span at each wanted size
    offsets: dict[int, int] = field(default_factory=dict)  # where line `size` starts
    checker: LineChecker = field(default_factory=LineChecker)
    light: LightScan = field(default_factory=LightScan)
    tail: bytes = b""  # after the last newline: only the log's last range has any


def _line_start(fd: int, target: int) -> int:
    """The offset of the first line starting at or after byte `target`."""
    position = target
    while position > 0:
        data = os.pread(fd, READ_SIZE, position - 1)
        if not data:
            break
        newline = data.find(b"\n")
        if newline >= 0:
            return position + newline
        position += len(data)
    return position if target else 0


def ranges(log: Path, jobs: int) -> list[tuple[int, int]]:
    """`jobs` byte ranges of whole lines covering the log (fewer when lines are long)."""
    fd = files.open_fd(log, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        starts = sorted({min(_line_start(fd, size * k // jobs), size) for k in range(jobs)})
    finally:
        os.close(fd)
    return [(a, b) for a, b in zip(starts, [*starts[1:], size], strict=True) if a < b]


def _lines_before(fd: int, start: int) -> int:
    count, position = 0, 0
    while position < start:
        data = os.pread(fd, min(READ_SIZE, start - position), position)
        if not data:  # the file is shorter than it was
            break
        count += data.count(b"\n")
        position += len(data)
    return count


def _line_before(fd: int, offset: int) -> bytes:
    """The line whose newline is the byte before `offset`."""
    end = start = offset - 1
    while start > 0:
        step = min(READ_SIZE, start)
        newline = os.pread(fd, step, start - step).rfind(b"\n")
        start -= step
        if newline >= 0:
            start += newline + 1
            break
    return os.pread(fd, end - start, start)


@dataclass
class _Ranger:
    """Scans one range: grows its span, and checks or searches its lines, chunk by chunk."""

    fd: int
    wanted: Sequence[int]  # ascending
    light_below: int
    result: RangeScan
    hashing: bool = True
    first: int = 0  # the index of the next chunk's first line

    def chunk(self, data: bytes, lines: list[bytes], offset: int) -> None:
        first, self.first = self.first, self.first + len(lines)
        if self.hashing:
            self._hash(lines, first, offset)
        light = max(min(self.light_below - first, len(lines)), 0)
        if light:
            self.result.light.search(data, lines[:light], first, offset, self.fd)
            offset += sum(map(len, lines[:light])) + light
        if light < len(lines) and first + light == self.light_below > 0:
            self.result.checker.after(_line_before(self.fd, offset), offset)
        for start in range(light, len(lines), BATCH_LINES):
            batch = lines[start : start + BATCH_LINES]
            self.result.checker.batch(batch, offset)
            offset += sum(map(len, batch)) + len(batch)

    def _hash(self, lines: list[bytes], first: int, offset: int) -> None:
        low = bisect.bisect_right(self.wanted, first)
        marks = self.wanted[low : bisect.bisect_right(self.wanted, first + len(lines))]
        self.result.marks |= self.result.span.extend(leaf_hashes(lines), marks)
        if marks:
            ends = list(accumulate(map(len, lines)))
            self.result.offsets |= {s: offset + ends[s - first - 1] + s - first for s in marks}


def scan_range(
    log: Path,
    start: int,
    stop: int,
    wanted: Sequence[int],
    light_below: int,
    *,
    hashing: bool = True,
) -> RangeScan:
    """The tree span and the line results of the whole lines from byte `start` to `stop`."""
    fd = files.open_fd(log, os.O_RDONLY)
    try:
        first = _lines_before(fd, start)
        result = RangeScan(Span.starting(first), checker=LineChecker(first=max(first, light_below)))
        ranger = _Ranger(fd, wanted, light_below, result, hashing, first)
        tail: list[bytes] = []
        for data, lines, offset in chunks(fd, start, stop, tail):
            ranger.chunk(data, lines, offset)
        result.tail = tail[0]
        if result.checker.fragment is not None:  # settled by the next range's first line
            for _, lines, offset in chunks(fd, stop, os.fstat(fd).st_size, []):
                result.checker.batch(lines[:1], offset)
                break
    finally:
        os.close(fd)
    return result


def scan_log(
    log: Path,
    jobs: int,
    wanted: Sequence[int],
    light_below: int,
    meanwhile: Callable[[], object] = lambda: None,
) -> tuple[list[RangeScan], bytes]:
    """Every range's result in order, and the bytes after the log's last newline; `meanwhile`
    runs in this process while the workers read."""
    if not log.exists():
        return [], b""
    spans = ranges(log, jobs) if jobs > 1 else [(0, log.stat().st_size)]

    def work(span: tuple[int, int]) -> RangeScan:
        start, stop = spans[span[0]]
        return scan_range(log, start, stop, wanted, light_below)

    if len(spans) <= 1:
        meanwhile()
        results = [work((0, 1))] if spans else []
    else:
        with forked(work, [(i, i + 1) for i in range(len(spans))], jobs) as done:
            meanwhile()
            results = sorted(done, key=lambda result: result.span.begin)
    for result in results:
        result.checker.finish()
    return results, results[-1].tail if results else b""


def check_range(log: Path, start: int, stop: int) -> LineChecker:
    """The line checks of one range, without the tree; a fragment at its end is settled with
    the next line."""
    return scan_range(log, start, stop, (), 0, hashing=False).checker


def check_lines(log: Path, jobs: int) -> list[LineChecker]:
    """Every line checked in full, in `jobs` forked workers (in-process when 1)."""
    if not log.exists():
        return [LineChecker()]
    if jobs <= 1:
        checker = LineChecker()
        for lines, offset in batches(log, []):
            checker.batch(lines, offset)
        checker.finish()
        return [checker]
    spans = ranges(log, jobs)

    def work(span: tuple[int, int]) -> LineChecker:
        return check_range(log, *spans[span[0]])

    with forked(work, [(i, i + 1) for i in range(len(spans))], jobs) as done:
        checkers = sorted(done, key=lambda checker: checker.first)
    for checker in checkers:
        checker.finish()
    return checkers
