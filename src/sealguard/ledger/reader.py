"""Reading events back from the governance log, for the state of observation and `log show`."""

from pathlib import Path
from typing import Any

import msgspec

from sealguard.errors import DataError
from sealguard.ledger.canonical import decode_line

Event = dict[str, Any]


def read_events(log_file: Path) -> list[Event]:
    """Every event in order. A torn fragment is skipped once an event accounts for it; any other
    unreadable line is a DataError naming it (`sealguard log verify` says more)."""
    lines = log_file.read_bytes().split(b"\n")
    lines.pop()  # empty after the last newline, or an unterminated fragment not yet accounted for
    events: list[Event] = []
    fragment: int | None = None
    for number, line in enumerate(lines, start=1):
        try:
            value = decode_line(line)
        except msgspec.DecodeError:
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
