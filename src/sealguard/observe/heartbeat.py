"""`sealguard heartbeat`: silence is an event. Meant for a timer apart from the observer's.

One act under the project's observer lock, with one checkpoint: read where the schedule stands
(schedule.py); when observations stopped arriving, journal the silence (`heartbeat_silence`,
an `HBT_…` id) and escalate it through the matrix's SILENCE row, once: a heartbeat that finds
the same silence again groups into its escalation while it is unacknowledged
(`escalation_grouped`), and journals nothing once people acknowledged it. When observations
arrive again, the next heartbeat journals `heartbeat_resumed` and closes the escalation.
Then it delivers what the outbox has due, as `observe` does. It never touches the state of
observation: a silence is not a drift and freezes nothing.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sealguard import ledger
from sealguard.config import SILENCE, Config
from sealguard.durations import duration_text
from sealguard.errors import ConfigError
from sealguard.escalation import dispatch
from sealguard.escalation.outbox import AttemptRecord, Escalation
from sealguard.events import iso_utc, new_id
from sealguard.exitcodes import ExitCode
from sealguard.ledger.journal import notable_events
from sealguard.lock import observer_lock
from sealguard.project import Project
from sealguard.schedule import (
    SILENCE_CLOSED,
    SILENCE_OPENED,
    Due,
    Silence,
    due_in_log,
    last_sign_of_life,
    open_silence,
)

RESUMED_BY = "sealguard heartbeat (observations resumed)"
NEXT = (
    "find why observations stopped (the timer, the runner, the machine, a lock held), "
    "start them again and run `sealguard observe`; the next `heartbeat` closes this silence"
)


@dataclass(frozen=True)
class Heartbeat:
    due: Due
    silence_id: str | None = None  # the silence still open after this heartbeat
    escalation_id: str | None = None  # its escalation (opened or grouped into now)
    opened: bool = False  # journaled by this heartbeat
    resumed: str | None = None  # a silence this heartbeat found over
    attempts: tuple[AttemptRecord, ...] = ()

    @property
    def exit_code(self) -> int:
        """69 (unavailable: the observations are) while silent, else 0."""
        return int(ExitCode.UNAVAILABLE if self.due.overdue else ExitCode.OK)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _silence_record(found: Due, last: dict[str, Any], config: Config, now: datetime) -> Any:
    """The silence as journaled and escalated: shaped like an event the packet reads. Its one
    rule names the last sign of life, so a later heartbeat of the same silence groups with it."""
    assert found.last is not None and found.next_due is not None and config.schedule
    since = iso_utc(found.last.replace(tzinfo=UTC))
    detail = f"no observation since {since} ({last.get('event_id') or last.get('type')})"
    return {
        "event_id": new_id("HBT", now),
        "classification": SILENCE,
        "severity": "major",
        "observed_at": iso_utc(now),
        "commit": None,
        "snapshot": None,
        "since": since,
        "last_event": last.get("event_id") or f"seq {last.get('seq')} {last.get('type')}",
        "due_at": iso_utc(found.next_due.replace(tzinfo=UTC)),
        "late_by_seconds": int(found.late_by_seconds),
        "every": config.schedule.every,
        "grace_seconds": int(found.grace_seconds),
        "why": [{"rule": "HEARTBEAT", "class": SILENCE, "matched": True, "detail": detail}],
        "next": NEXT,
    }


def _escalation_of(project: Project, config: Config, silence: Silence) -> Escalation | None:
    found = dispatch.escalations(project, config).values()
    return next((e for e in found if e.event_id == silence.event_id), None)


def _close(project: Project, config: Config, silence: Silence, last: dict[str, Any]) -> None:
    """Journal the silence over, and close its escalation if nobody acknowledged it."""
    again = (
        f"{last.get('event_id') or last.get('type')} at {last.get('observed_at') or last.get('ts')}"
    )
    items: list[tuple[str, dict[str, Any]]] = [
        (SILENCE_CLOSED, {"silence": silence.event_id, "since": silence.since, "resumed": again})
    ]
    esc = _escalation_of(project, config, silence)
    if esc is not None and esc.acknowledged_by is None:
        note = f"observations resumed: {again}"
        fields = {"escalation_id": esc.escalation_id, "by": RESUMED_BY, "note": note}
        items.append(("escalation_acknowledged", fields))
    ledger.append_many(project.ledger(config), items)


def _silent(
    project: Project,
    config: Config,
    found: Due,
    silence: Silence | None,
    *,
    last: dict[str, Any],
    now: datetime,
) -> tuple[str, str | None, bool]:
    """Escalate a new silence, or group a known one into its escalation while unacknowledged;
    returns (silence id, escalation id, opened now)."""
    if silence is None:
        record = _silence_record(found, last, config, now)
        ledger.append(project.ledger(config), SILENCE_OPENED, record)
        return record["event_id"], dispatch.create(project, config, record, now), True
    esc = _escalation_of(project, config, silence)
    if esc is None or esc.acknowledged_by is not None:
        return silence.event_id, esc.escalation_id if esc else None, False
    again = {**silence.record, "observed_at": iso_utc(now)}
    return silence.event_id, dispatch.create(project, config, again, now), False


def _schedule(config: Config, project: Project) -> tuple[float, float | None]:
    if config.schedule is None:
        raise ConfigError(
            f"{project.config_file}: schedule: the config in force has no [schedule] "
            '(every = "15m"): nothing says when observations are due'
        )
    return config.schedule.every_seconds, config.schedule.grace_seconds


def heartbeat(
    project: Project, config: Config, now: datetime | None = None, wait: bool = False
) -> Heartbeat:
    """One heartbeat (see the module's docstring). BusyError (75) when an observation holds
    the lock and not `wait`: that observation is itself the sign of life."""
    every, grace = _schedule(config, project)
    now = now or datetime.now(UTC)
    ledger_ = project.ledger(config)
    with observer_lock(ledger_.folder, wait), ledger.one_checkpoint(ledger_):
        events = notable_events(ledger_)
        found = due_in_log(events, every, _naive(now), grace)
        silence, resumed = open_silence(events), None
        last = last_sign_of_life(events) or {}
        if silence and (not found.overdue or silence.since != _since(found)):
            _close(project, config, silence, last)
            resumed, silence = silence.event_id, None
        silence_id, esc_id, opened = None, None, False
        if found.overdue:
            silence_id, esc_id, opened = _silent(
                project, config, found, silence, last=last, now=now
            )
        attempts = dispatch.deliver_due(project, config, now)
    return Heartbeat(found, silence_id, esc_id, opened, resumed, tuple(attempts))


def _since(found: Due) -> str | None:
    return iso_utc(found.last.replace(tzinfo=UTC)) if found.last else None


def describe(beat: Heartbeat) -> str:
    """One line for people (the CLI's text)."""
    due = beat.due
    if beat.resumed and not due.overdue:
        head = f"observations resumed; silence {beat.resumed} closed; "
    else:
        head = ""
    if due.next_due is None:
        return head + "nothing observed or sealed yet"
    at = iso_utc(due.next_due.replace(tzinfo=UTC))
    if not due.overdue:
        lateness = f"late by {duration_text(due.late_by_seconds)}" if due.late else "on time"
        return head + f"next observation due {at}: {lateness}"
    now = " (escalated now)" if beat.opened else ""
    return (
        f"SILENCE: no observation since {_since(due)}; due {at}, late by "
        f"{duration_text(due.late_by_seconds)}: {beat.silence_id}, {beat.escalation_id}{now}"
    )
