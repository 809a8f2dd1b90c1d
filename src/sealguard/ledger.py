"""The governance log, GOVERNANCE_LOG.ndjson: the one way events are written and read.

Each line is the RFC 8785 canonical JSON of one event, with `seq` (its 0-based position), `ts`
(UTC, ISO 8601, `Z`) and `type`. A line is written whole with one write on an O_APPEND
descriptor, under an exclusive lock, then fsynced; only then does the event count as written.
"""

import fcntl
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785

from sealguard.errors import DataError, SealguardError

Event = dict[str, Any]


class LedgerWriteError(SealguardError):
    """The log could not be written durably; the event does not count as written."""


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode(event: Mapping[str, Any]) -> bytes:
    return bytes(rfc8785.dumps(dict(event)))


def _count_lines(fd: int) -> int:
    count, chunk = 0, b"x"
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk:
        chunk = os.read(fd, 1 << 20)
        count += chunk.count(b"\n")
    return count


def append(log_file: Path, event_type: str, fields: Mapping[str, Any]) -> Event:
    """Append one event and return it as written (with its seq and ts)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_file, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        event: Event = {**fields, "seq": _count_lines(fd), "ts": utc_now(), "type": event_type}
        line = encode(event) + b"\n"
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise LedgerWriteError(
                    f"{log_file}: short write ({written} of {len(line)} bytes); stopped"
                )
            os.fsync(fd)
        except OSError as exc:
            raise LedgerWriteError(f"{log_file}: cannot write the log: {exc.strerror}") from None
        return event
    finally:
        os.close(fd)


def read_events(log_file: Path) -> list[Event]:
    """Every event in the log, in order; an unreadable line is a DataError naming it."""
    import json

    events: list[Event] = []
    with log_file.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            try:
                events.append(json.loads(line))
            except ValueError as exc:
                raise DataError(f"{log_file}:{number}: not a JSON event: {exc}") from None
    return events
