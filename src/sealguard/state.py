"""What the governance log says now: folded from its events, with no I/O."""

from collections.abc import Iterable
from typing import Any

BASELINE_EVENTS = frozenset({"baseline_sealed"})


def baseline_record(events: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The last event that put a baseline in force, or None when none did."""
    found = None
    for event in events:
        if event.get("type") in BASELINE_EVENTS:
            found = event
    return found
