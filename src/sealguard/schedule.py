"""The schedule of observations and the silence of a dead timer. Pure: no files, no clock.

`[schedule] every` says how often an observation is expected. The signs of life are what an
observation attempt journals: a RUNTIME_EVENT (at its `observed_at`), and an attempt refused
while FROZEN or HALTED (`observation_refused`, `certification_refused`, at their `ts`): a frozen
project whose timer still runs `observe` is alive; the timer itself being dead is what matters.
Before the first observation, the seal starts the clock.

The next observation is due `every` after the last sign of life. It is late from then on, and
overdue (a silence, which `heartbeat` escalates) once it is late by more than the grace: by
default half of `every`, at least a minute, for a timer's jitter and the observation's own run.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

SIGNS_OF_LIFE = frozenset({"runtime_event", "observation_refused", "certification_refused"})
SEALED = "baseline_sealed"
SILENCE_OPENED = "heartbeat_silence"
SILENCE_CLOSED = "heartbeat_resumed"
MIN_GRACE = 60.0


@dataclass(frozen=True)
class Due:
    """Where the schedule stands at `now`. Times are naive UTC, like the outbox's."""

    every_seconds: float
    grace_seconds: float
    last: datetime | None  # the last sign of life (None: nothing sealed yet)
    next_due: datetime | None  # when the next observation is expected
    late_by_seconds: float  # how long past `next_due` (0 when it is not yet due)
    overdue: bool  # late by more than the grace: a silence

    @property
    def late(self) -> bool:
        return self.late_by_seconds > 0


def default_grace(every_seconds: float) -> float:
    return max(every_seconds / 2, MIN_GRACE)


def due(
    every_seconds: float, last: datetime | None, now: datetime, grace_seconds: float | None = None
) -> Due:
    """When the observation after `last` is due, and how late it is at `now`."""
    grace = default_grace(every_seconds) if grace_seconds is None else grace_seconds
    if last is None:
        return Due(every_seconds, grace, None, None, 0.0, False)
    next_due = last + timedelta(seconds=every_seconds)
    late_by = max((now - next_due).total_seconds(), 0.0)
    return Due(every_seconds, grace, last, next_due, late_by, late_by > grace)


def when(text: Any) -> datetime | None:
    """A journaled time as naive UTC; None when it is not one."""
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return value.replace(tzinfo=None) - (value.utcoffset() or timedelta())


def sign_time(event: dict[str, Any]) -> datetime | None:
    """When an event shows the observer alive: an observation's start, else its journaling."""
    return when(event.get("observed_at") or event.get("ts"))


def last_sign_of_life(events: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The last observation attempt the log holds (in log order), else the seal, else None."""
    found: dict[str, Any] | None = None
    for event in events:
        kind = event.get("type")
        if kind in SIGNS_OF_LIFE or (kind == SEALED and found is None):
            found = event
    return found


def due_in_log(
    events: Iterable[dict[str, Any]],
    every_seconds: float,
    now: datetime,
    grace_seconds: float | None = None,
) -> Due:
    """`due` for the log's last sign of life."""
    last = last_sign_of_life(events)
    return due(every_seconds, sign_time(last) if last else None, now, grace_seconds)


@dataclass(frozen=True)
class Silence:
    """A silence `heartbeat` journaled and no later heartbeat found over."""

    event_id: str  # HBT_…: what its escalation answers
    since: str  # the last sign of life it counted from
    record: dict[str, Any]  # the heartbeat_silence event as journaled


def open_silence(events: Iterable[dict[str, Any]]) -> Silence | None:
    """The silence still open after `events`, if any."""
    found: Silence | None = None
    for event in events:
        kind = event.get("type")
        if kind == SILENCE_OPENED:
            found = Silence(str(event["event_id"]), str(event["since"]), event)
        elif kind == SILENCE_CLOSED and found and event.get("silence") == found.event_id:
            found = None
    return found
