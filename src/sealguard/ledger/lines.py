"""Reading the log's lines in batches, and checking each line (the line half of INV-D-03).

Every line must be canonical JSON with `seq` equal to its position and string `ts` and `type`;
a line that is not JSON is allowed only as a torn fragment that the next event accounts for
exactly (a `torn_tail` event with its line, offset, length and SHA-256).
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealguard.ledger import files
from sealguard.ledger.canonical import all_canonical, canonical_problem, decode_line

BATCH_LINES = 8192
WITNESS_EVENT = "witness_configured"  # the log names its witness (see anchor.py)
READ_SIZE = 1 << 22


def batches(
    log: Path, tail: list[bytes], start: int = 0, stop: int | None = None
) -> Iterator[tuple[list[bytes], int]]:
    """Batches of complete lines from byte `start` (a line start) with the offset of each batch's
    first line; lines starting at or after `stop` are left out. Bytes after the last newline of
    the file (a torn write) are put in `tail`. A missing log has no lines."""
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
                if stop is not None:
                    batch = _before(batch, offset, stop)
                    if not batch:
                        return
                yield batch, offset
                offset += sum(len(line) for line in batch) + len(batch)
    tail.append(pending)


def _before(batch: list[bytes], offset: int, stop: int) -> list[bytes]:
    kept = []
    for line in batch:
        if offset >= stop:
            break
        kept.append(line)
        offset += len(line) + 1
    return kept


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
