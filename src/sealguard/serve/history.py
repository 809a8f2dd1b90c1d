"""Every observation the log holds, indexed in memory and brought up to date by reading only
what was appended since the last look.

The log is append-only, so a reader that remembers how far it read need not read it again: a
request after an observation reads that observation's lines. The index keeps, for each
RUNTIME_EVENT, its id, time, class and where its line is (for /api/events/{id}), and the count
of each class (for /metrics). It is a view of the log, never a second record: it is rebuilt from
the first byte whenever the log is no longer the file it read (another inode, or shorter). It
checks nothing; `sealguard log verify` does. It reads without a lock and writes nothing, so it
never holds up an observation.
"""

import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sealguard.errors import DataError
from sealguard.ledger import files
from sealguard.ledger.reader import parse_events
from sealguard.state import RUNTIME_EVENT, observed_at


@dataclass(frozen=True)
class Seen:
    """One observation, as the index keeps it."""

    event_id: str
    observed_at: str
    classification: str
    purpose: str
    seq: int
    start: int  # the byte offset of its line in the log
    length: int  # the line's length, without its newline
    at: datetime | None  # `observed_at`, aware; None when the record's time cannot be read

    def summary(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "observed_at": self.observed_at,
            "classification": self.classification,
            "purpose": self.purpose,
            "seq": self.seq,
        }


@dataclass
class History:
    log: Path
    seen: list[Seen] = field(default_factory=list)
    by_class: Counter[str] = field(default_factory=Counter)
    by_id: dict[str, Seen] = field(default_factory=dict)
    read_to: int = 0  # bytes read: always the end of a whole line
    lines: int = 0
    inode: tuple[int, int] | None = None
    problem: str | None = None  # why the last refresh stopped short, if it did
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def refresh(self) -> "History":
        """Read what was appended since the last refresh (everything, when the log was
        replaced or shortened). Safe from several request threads at once."""
        with self._lock:
            self._refresh()
        return self

    def _refresh(self) -> None:
        try:
            st = os.stat(self.log)
        except FileNotFoundError:
            self._reset(None)
            return
        if (st.st_dev, st.st_ino) != self.inode or st.st_size < self.read_to:
            self._reset((st.st_dev, st.st_ino))
        if st.st_size == self.read_to:
            return
        with files.open_read(self.log) as stream:
            stream.seek(self.read_to)
            data = stream.read(st.st_size - self.read_to)
        whole = data[: data.rfind(b"\n") + 1]  # a line still being written waits
        try:
            events = parse_events(whole, self.log, self.lines)
        except DataError as exc:
            self.problem = exc.message  # retried from the same place at the next refresh
            return
        self._add(events, whole)
        self.read_to += len(whole)
        self.lines += whole.count(b"\n")
        self.problem = None

    def _reset(self, inode: tuple[int, int] | None) -> None:
        self.seen, self.by_class, self.by_id = [], Counter(), {}
        self.read_to, self.lines, self.inode, self.problem = 0, 0, inode, None

    def _add(self, events: list[dict[str, Any]], whole: bytes) -> None:
        """Keep the observations among `events`, each with its line. The parser skips only a
        torn fragment, and only when the next event is the `torn_tail` that accounts for it
        (ledger/reader.py), so the lines and the events are walked side by side."""
        spans = iter(enumerate(_line_spans(whole, self.read_to), start=self.lines))
        for event in events:
            number, span = next(spans)
            if _accounts_for(event, number):
                number, span = next(spans)
            if event.get("type") == RUNTIME_EVENT:
                self._keep(event, *span)

    def _keep(self, event: dict[str, Any], start: int, length: int) -> None:
        seen = Seen(
            str(event.get("event_id")),
            str(observed_at(event)),
            str(event.get("classification")),
            str(event.get("purpose") or "observation"),
            int(event.get("seq", -1)),
            start,
            length,
            _moment(observed_at(event)),
        )
        self.seen.append(seen)
        self.by_id[seen.event_id] = seen
        self.by_class[seen.classification] += 1

    def line(self, seen: Seen) -> bytes:
        """The log line of an observation the index holds."""
        with files.open_read(self.log) as stream:
            stream.seek(seen.start)
            return stream.read(seen.length)


def _accounts_for(event: dict[str, Any], number: int) -> bool:
    """Whether `event` is the torn_tail of the fragment on line `number` (0-based)."""
    fragment = event.get("fragment")
    return (
        event.get("type") == "torn_tail"
        and isinstance(fragment, dict)
        and fragment.get("line") == number
    )


def _line_spans(data: bytes, offset: int) -> list[tuple[int, int]]:
    spans, start = [], 0
    while (end := data.find(b"\n", start)) != -1:
        spans.append((offset + start, end - start))
        start = end + 1
    return spans


def _moment(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
