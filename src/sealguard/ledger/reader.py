"""Reading events back from the governance log, for the state of observation and `log show`."""

from datetime import datetime
from pathlib import Path
from typing import Any

from sealguard.errors import DataError
from sealguard.ledger import files
from sealguard.ledger.canonical import DECODE_ERRORS, decode_line

Event = dict[str, Any]


def _read_from(log_file: Path, start: int) -> bytes:
    if not start:
        return files.read_bytes(log_file)
    with files.open_read(log_file) as stream:
        stream.seek(start)
        return stream.read()


def read_events(log_file: Path, start: int = 0, first_line: int = 0) -> list[Event]:
    """Every event in order (from byte `start`, the start of line `first_line` + 1). A torn
    fragment is skipped once an event accounts for it; any other unreadable line is a DataError
    naming it (`sealguard log verify` says more); a log replaced by a symlink or a special file
    is a LedgerFileError, never opened through."""
    return parse_events(_read_from(log_file, start), log_file, first_line)


def parse_events(data: bytes, log_file: Path, first_line: int = 0) -> list[Event]:
    """The events of `data` (lines of `log_file` from line `first_line` + 1): see read_events."""
    lines = data.split(b"\n")
    lines.pop()  # empty after the last newline, or an unterminated fragment not yet accounted for
    events: list[Event] = []
    fragment: int | None = None
    for number, line in enumerate(lines, start=first_line + 1):
        try:
            value = decode_line(line)
        except DECODE_ERRORS:
            value = None
        if not isinstance(value, dict):
            if fragment is not None:
                raise DataError(
                    f"{log_file}:{fragment}: not a JSON event; run `sealguard log verify`"
                )
            fragment = number
            continue
        if fragment is not None and not _accounts_for(value, fragment):
            raise DataError(f"{log_file}:{fragment}: not a JSON event; run `sealguard log verify`")
        fragment = None
        events.append(value)
    if fragment is not None:
        raise DataError(f"{log_file}:{fragment}: not a JSON event; run `sealguard log verify`")
    return events


def _accounts_for(event: Event, line_number: int) -> bool:
    fragment = event.get("fragment")
    return (
        event.get("type") == "torn_tail"
        and isinstance(fragment, dict)
        and fragment.get("line") == line_number - 1
    )


def read_first_event(log_file: Path) -> Event | None:
    """The first event (it carries the log key), or None when the log is empty or unreadable."""
    with files.open_read(log_file) as stream:
        line = stream.readline()
    try:
        value = decode_line(line.rstrip(b"\n"))
    except DECODE_ERRORS:
        return None
    return value if isinstance(value, dict) else None


def _when(event: Event) -> datetime | None:
    try:
        return datetime.fromisoformat(str(event.get("ts")))
    except ValueError:
        return None


def select(events: list[Event], since: datetime | None, event_type: str | None) -> list[Event]:
    """Events of `event_type` (all when None) whose `ts` is at or after `since` (aware, UTC)."""
    chosen = []
    for event in events:
        when = _when(event)
        if since is not None and (when is None or when < since):
            continue
        if event_type is None or event.get("type") == event_type:
            chosen.append(event)
    return chosen
