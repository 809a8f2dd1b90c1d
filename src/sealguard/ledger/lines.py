"""Reading the log's lines in batches, and checking each line (the line half of INV-D-03).

Every line must be canonical JSON with `seq` equal to its position and string `ts` and `type`;
a line that is not JSON is allowed only as a torn fragment that the next event accounts for
exactly (a `torn_tail` event with its line, offset, length and SHA-256).

Lines that a verified checkpoint covers may instead be scanned lightly (`LightScan`): not
checked again, only searched for the events the audit needs from them.
"""

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealguard.ledger import files
from sealguard.ledger.canonical import (
    DECODE_ERRORS,
    all_canonical,
    canonical_problem,
    decode_line,
)

BATCH_LINES = 8192
WITNESS_EVENT = "witness_configured"  # the log names its witness (see anchor.py)
TORN_EVENT = "torn_tail"  # accounts for a torn fragment on the line before it
READ_SIZE = 1 << 22
_TYPED = b'"type":"%s"'  # as a canonical line spells its type: a long needle is found fastest


def batches(log: Path, tail: list[bytes], start: int = 0) -> Iterator[tuple[list[bytes], int]]:
    """Batches of complete lines from byte `start` (a line start) with the offset of each batch's
    first line. Bytes after the last newline of the file (a torn write) are put in `tail`. A
    missing log has no lines."""
    pending, offset = b"", start
    try:
        stream = files.open_read(log)
    except FileNotFoundError:
        tail.append(b"")
        return
    with stream:
        stream.seek(start)
        while chunk := stream.read(READ_SIZE):
            parts = (pending + chunk).split(b"\n")
            pending = parts.pop()
            for first in range(0, len(parts), BATCH_LINES):
                batch = parts[first : first + BATCH_LINES]
                yield batch, offset
                offset += sum(len(line) for line in batch) + len(batch)
    tail.append(pending)


def chunks(
    fd: int, start: int, stop: int, tail: list[bytes]
) -> Iterator[tuple[bytes, list[bytes], int]]:
    """(data, lines, offset): the complete lines from byte `start` (a line start) to `stop`, in
    large chunks; `data` is the chunk they were split from (it may run on past them) and
    `offset` where the first of them starts. Bytes after the last newline before `stop` go in
    `tail`. Each chunk is read where the last one's whole lines ended: nothing is copied twice."""
    size = READ_SIZE
    while start < stop:
        wanted = min(size, stop - start)
        data = os.pread(fd, wanted, start)
        lines = data.split(b"\n")
        rest = lines.pop()
        if not lines:
            if len(data) < wanted or start + len(data) >= stop:  # the end: a torn write
                tail.append(data)
                return
            size *= 2  # a line longer than the chunk
            continue
        yield data, lines, start
        start += len(data) - len(rest)
    tail.append(b"")


@dataclass(frozen=True)
class LineProblem:
    line: int  # 1-based
    message: str


@dataclass
class LineChecker:
    """Checks lines in order from line index `first`; collects problems and accounted tears."""

    first: int = 0
    problems: list[LineProblem] = field(default_factory=list)
    torn_tails: list[int] = field(default_factory=list)
    witnesses: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (line, event)
    fragment: tuple[int, int, bytes] | None = None  # (index, offset, bytes) awaiting its event
    next_index: int = -1

    def __post_init__(self) -> None:
        self.next_index = self.first

    def problem(self, index: int, message: str) -> None:
        self.problems.append(LineProblem(index + 1, f"line {index + 1}: {message}"))

    def batch(self, lines: list[bytes], offset: int) -> None:
        start = self.next_index
        if not self._all_good(lines, start):
            for i, line in enumerate(lines):
                self.line(start + i, line, offset)
                offset += len(line) + 1
        self.next_index = start + len(lines)

    def after(self, line: bytes, offset: int) -> None:
        """Start after a line that was not checked (a verified checkpoint covers it), in the
        state a full check would be in: a fragment there waits for its torn_tail event."""
        if (canonical_problem(line) or "").startswith("not JSON"):
            self.fragment = (self.next_index - 1, offset - len(line) - 1, line)

    def finish(self) -> None:
        """At the true end of the log: a fragment nothing accounted for is a problem."""
        if self.fragment is not None:
            self.problem(
                self.fragment[0], "not a JSON event, and no torn_tail event accounts for it"
            )
            self.fragment = None

    def _all_good(self, lines: list[bytes], start: int) -> bool:
        """The fast path: the whole batch canonical, numbered and typed, checked in bulk."""
        values = all_canonical(lines) if self.fragment is None else None
        if values is None:
            return False
        if [v.get("seq") for v in values] != list(range(start, start + len(lines))):
            return False
        if not all(isinstance(v.get("type"), str) and isinstance(v.get("ts"), str) for v in values):
            return False
        if WITNESS_EVENT.encode() in b"".join(lines):  # one search in C, rarely a loop
            self.witnesses += [
                (start + i + 1, v) for i, v in enumerate(values) if v["type"] == WITNESS_EVENT
            ]
        return True

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
        self._account(event)
        if problem is not None or not isinstance(event, dict):
            self.problem(index, problem or "not a JSON object")
            return
        if event.get("seq") != index:
            seq = event.get("seq")
            self.problem(
                index, f"seq is {seq!r}, expected {index} (a line removed, inserted or moved?)"
            )
        elif not isinstance(event.get("type"), str) or not isinstance(event.get("ts"), str):
            self.problem(index, "an event needs a string `type` and `ts`")
        elif event["type"] == WITNESS_EVENT:
            self.witnesses.append((index + 1, event))

    def _account(self, event: Any) -> None:
        if self.fragment is None:
            return
        index, offset, data = self.fragment
        self.fragment = None
        expected = {
            "line": index,
            "offset": offset,
            "length": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        if (
            isinstance(event, dict)
            and event.get("type") == "torn_tail"
            and event.get("fragment") == expected
        ):
            self.torn_tails.append(index + 1)
        else:
            self.problem(index, "not a JSON event, and no torn_tail event accounts for it")


def _hits(data: bytes, count: int, needle: bytes) -> Iterator[tuple[int, int]]:
    """(k, start): each of the first `count` lines of `data` that holds `needle`, with where it
    starts; one pass over `data`, in C but for the lines hit."""
    line, counted, position = 0, 0, data.find(needle)
    while position >= 0:
        line += data.count(b"\n", counted, position)
        if line >= count:
            return
        end = data.find(b"\n", position)
        yield line, data.rfind(b"\n", 0, position) + 1
        line, counted = line + 1, end + 1
        position = data.find(needle, counted)


def _read_at(fd: int) -> Callable[[int, int], bytes]:
    return lambda offset, length: os.pread(fd, length, offset) if offset >= 0 else b""


@dataclass
class LightScan:
    """The lines under a checkpoint that the log key signed and the tree's root matches.

    They are not checked again: the key signed exactly these bytes, and sealguard's writer
    writes only canonical lines. Only what the audit needs from them is found, by a byte search
    and reading the lines it hits: the witness the log names (`witness_configured` events), and
    the torn fragments that `torn_tail` events account for.
    """

    witnesses: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (line, event)
    torn_tails: list[int] = field(default_factory=list)  # 1-based lines of accounted fragments

    def search(self, data: bytes, lines: list[bytes], first: int, offset: int, fd: int) -> None:
        """The first len(lines) lines of `data`, which start at byte `offset` with line index
        `first`; `fd` reads the line before the first."""
        for k, _ in _hits(data, len(lines), _TYPED % WITNESS_EVENT.encode()):
            event = _event(lines[k])
            if event is not None and event.get("type") == WITNESS_EVENT:
                self.witnesses.append((first + k + 1, event))
        for k, start in _hits(data, len(lines), _TYPED % TORN_EVENT.encode()):
            event = _event(lines[k])
            if event is not None and event.get("type") == TORN_EVENT:
                before = lines[k - 1] if k else None
                self._account(first + k, offset + start, event, before, _read_at(fd))

    def _account(
        self,
        index: int,
        where: int,
        event: dict[str, Any],
        before: bytes | None,
        read: Callable[[int, int], bytes],
    ) -> None:
        """Line `index` (at byte `where`) is a torn_tail event: it accounts for line index - 1
        when that is a fragment with exactly the offset, length and SHA-256 it records."""
        fragment = event.get("fragment")
        if not isinstance(fragment, dict) or not isinstance(fragment.get("length"), int):
            return
        start = where - fragment["length"] - 1
        if before is None:  # the line before lies in the range before this one
            before = read(start, fragment["length"])
            if b"\n" in before or (start and read(start - 1, 1) != b"\n"):
                return
        expected = {
            "line": index - 1,
            "offset": start,
            "length": len(before),
            "sha256": hashlib.sha256(before).hexdigest(),
        }
        if fragment == expected and (canonical_problem(before) or "").startswith("not JSON"):
            self.torn_tails.append(index)


def _event(line: bytes) -> dict[str, Any] | None:
    try:
        value = decode_line(line)
    except DECODE_ERRORS:
        return None
    return value if isinstance(value, dict) else None
