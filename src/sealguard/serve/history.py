"""Every observation the log holds, indexed in memory and brought up to date by reading only
what was appended since the last look.

The log is append-only, so a reader that remembers how far it read need not read it again: a
request after an observation reads that observation's lines. The index keeps, for each
RUNTIME_EVENT, its id, time, class and where its line is (for /api/events/{id}), and the count
of each class (for /metrics). It is a view of the log, never a second record: it is rebuilt from
the first byte whenever the log is no longer the file it read (another inode, or shorter).

Lines are found as the audit's light scan finds them (ledger/lines.py): by a byte search for
the type as a canonical line spells it, then only the fields of the report's row are decoded
(report/trail.py `RowFields`; a RUNTIME_EVENT is most of a log's bytes, and decoding each in
full cost 8 of 13 s at 100,000 observations). It checks nothing (`sealguard log verify`
does), reads in bounded chunks without a lock, and writes nothing, so it never holds up an
observation.
"""

import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from sealguard.ledger import files
from sealguard.report.trail import Observation, RowFields, row_of
from sealguard.state import RUNTIME_EVENT

NEEDLE = b'"type":"%s"' % RUNTIME_EVENT.encode()  # as a canonical line spells its type
CHUNK = 16 * 1024 * 1024  # bytes read at once: memory stays bounded whatever the log's size


_DECODER = msgspec.json.Decoder(RowFields)  # the report's row: the fields it reads


@dataclass(frozen=True)
class Seen:
    """One observation: the report's row of it (report/trail.py), and where its line is."""

    row: Observation
    start: int  # the byte offset of its line in the log
    length: int  # the line's length, without its newline
    at: datetime | None  # when it started, aware; None when the record's time cannot be read

    @property
    def event_id(self) -> str:
        return self.row.event_id

    def summary(self) -> dict[str, Any]:
        return msgspec.to_builtins(self.row)  # type: ignore[no-any-return]


@dataclass
class History:
    log: Path
    seen: list[Seen] = field(default_factory=list)
    by_class: Counter[str] = field(default_factory=Counter)
    by_id: dict[str, Seen] = field(default_factory=dict)
    read_to: int = 0  # bytes read: always the end of a whole line
    lines: int = 0
    inode: tuple[int, int] | None = None
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
            while whole := _whole_lines(stream):
                self._add(whole)
                self.read_to += len(whole)
                self.lines += whole.count(b"\n")

    def _reset(self, inode: tuple[int, int] | None) -> None:
        self.seen, self.by_class, self.by_id = [], Counter(), {}
        self.read_to, self.lines, self.inode = 0, 0, inode

    def _add(self, whole: bytes) -> None:
        """Keep the observations among `whole` lines (which start at byte `read_to`). A line
        that cannot be read is passed over: a torn fragment (accounted for by the torn_tail
        after it) or damage, which the state shows when it is where `status` reads (after the
        last verified state) and `sealguard log verify` reports wherever it is."""
        position = whole.find(NEEDLE)
        while position >= 0:
            start = whole.rfind(b"\n", 0, position) + 1
            end = whole.find(b"\n", position)
            try:
                head = _DECODER.decode(whole[start:end])
            except (msgspec.DecodeError, msgspec.ValidationError):
                pass
            else:
                if head.type == RUNTIME_EVENT:
                    self._keep(row_of(head), self.read_to + start, end - start)
            position = whole.find(NEEDLE, end)

    def _keep(self, row: Observation, start: int, length: int) -> None:
        seen = Seen(row, start, length, _moment(row.observed_at))
        self.seen.append(seen)
        self.by_id[row.event_id] = seen
        self.by_class[row.classification] += 1

    @property
    def rows(self) -> list[Observation]:
        return [s.row for s in self.seen]

    def line(self, seen: Seen) -> bytes:
        """The log line of an observation the index holds."""
        with files.open_read(self.log) as stream:
            stream.seek(seen.start)
            return stream.read(seen.length)


def _whole_lines(stream: BinaryIO) -> bytes:
    """The next whole lines from `stream` (about CHUNK bytes; more when a line is longer),
    leaving it after them; b"" when no whole line is left (a line still being written waits)."""
    data = b""
    while more := stream.read(CHUNK):
        data += more
        end = data.rfind(b"\n") + 1
        if end:
            stream.seek(end - len(data), os.SEEK_CUR)
            return data[:end]
    return b""


def _moment(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
