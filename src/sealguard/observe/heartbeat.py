"""`sealguard heartbeat`: silence is an event. Meant for a timer apart from the observer's.

One act under the project's observer lock, with one checkpoint: read where the schedule stands
(schedule.py); when observations stopped arriving, journal the silence (`heartbeat_silence`,
an `HBT_…` id) and escalate it through the matrix's SILENCE row, once: a heartbeat that finds
the same silence again groups into its escalation while it is unacknowledged
(`escalation_grouped`), and journals nothing once people acknowledged it. When observations
arrive again, the next heartbeat journals `heartbeat_resumed` and closes the escalation.
Then it delivers what the outbox has due, as `observe` does. It never touches the state of
observation: a silence is not a drift and freezes nothing.

Whatever holds the lock (an observation under way) is a sign of life, for as long as an
observation may take: from when it took the lock, a period and the grace. Past that, the holder
is stuck (stopped at a terminal, hung): the heartbeat reports the silence and the holder's pid,
and exits 69, but journals nothing and escalates nothing, since that needs the lock.
"""

import os
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sealguard import ledger
from sealguard.config import SILENCE, Config
from sealguard.durations import duration_text
from sealguard.errors import BusyError, ConfigError, DataError
from sealguard.escalation import dispatch
from sealguard.escalation.outbox import AttemptRecord, Escalation
from sealguard.events import iso_utc, new_id
from sealguard.exitcodes import ExitCode
from sealguard.ledger.journal import notable_events
from sealguard.lock import LOCK_NAME, observer_lock
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
from sealguard.schedule import due as due_after

RESUMED_BY = "sealguard heartbeat (observations resumed)"
NEXT = (
    "find why observations stopped (the timer, the runner, the machine, a lock held), "
    "start them again and run `sealguard observe`; the next `heartbeat` closes this silence"
)
POLL_SECONDS = 1.0  # how often `heartbeat --wait` tries the lock again


@dataclass(frozen=True)
class Holder:
    """What holds the observer lock, as its file says: the pid it wrote on taking it, then."""

    pid: str
    since: datetime  # naive UTC


@dataclass(frozen=True)
class Heartbeat:
    due: Due
    silence_id: str | None = None  # the silence still open after this heartbeat
    escalation_id: str | None = None  # its escalation (opened or grouped into now)
    opened: bool = False  # journaled by this heartbeat
    resumed: str | None = None  # a silence this heartbeat found over
    attempts: tuple[AttemptRecord, ...] = ()
    stuck: Holder | None = None  # silent, and the lock held too long to journal it

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


def no_schedule(project: Project) -> ConfigError:
    """The config in force has no [schedule]: what to do about it, before and after the seal."""
    how = (
        "add it in a staging copy and propose it (`sealguard propose --from STAGING`, then "
        "`decide PRO_… amend`)"
        if project.sealed
        else "add a [schedule] section to this file"
    )
    return ConfigError(
        f"{project.config_file}: schedule: the config in force has no [schedule] "
        f'(every = "15m"): nothing says when observations are due; {how}'
    )


def _schedule(config: Config, project: Project) -> tuple[float, float | None]:
    if config.schedule is None:
        raise no_schedule(project)
    return config.schedule.every_seconds, config.schedule.grace_seconds


def heartbeat(
    project: Project, config: Config, now: datetime | None = None, wait: bool = False
) -> Heartbeat:
    """One heartbeat (see the module's docstring). BusyError (75) when an observation holds
    the lock and not `wait`: that observation is itself the sign of life, unless it has held
    the lock so long that observations are overdue even counting from its start: then a
    Heartbeat that is `stuck` (69), having journaled nothing. `wait` tries the lock again until
    it is free or its holder is stuck."""
    every, grace = _schedule(config, project)
    start = moment = now or datetime.now(UTC)
    clock = time.monotonic()
    ledger_ = project.ledger(config)
    while True:
        with ExitStack() as held:
            try:
                held.enter_context(observer_lock(ledger_.folder))
            except BusyError:
                if stuck := _stuck(ledger_, every, grace, moment):
                    return stuck
                if not wait:
                    raise
            else:
                held.enter_context(ledger.one_checkpoint(ledger_))
                return _beat(project, config, (every, grace), moment)
        time.sleep(POLL_SECONDS)
        moment = start + timedelta(seconds=time.monotonic() - clock)


def _holder(folder: Path) -> Holder | None:
    """The lock file's pid and when it was written (the lock writes it on being taken)."""
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        text = os.read(fd, 64).decode("ascii", "replace").strip()
        since = datetime.fromtimestamp(os.fstat(fd).st_mtime, UTC)
    except OSError:
        return None
    finally:
        os.close(fd)
    return Holder(text if text.isdigit() else "?", _naive(since))


def _stuck(
    ledger_: ledger.Ledger, every: float, grace: float | None, now: datetime
) -> Heartbeat | None:
    """The lock is taken: a Heartbeat when observations are overdue even counting from when
    its holder took it (read without the lock, journaling nothing), else None."""
    holder = _holder(ledger_.folder)
    if holder is None:
        return None
    try:
        last = due_in_log(notable_events(ledger_), every, _naive(now), grace).last
    except DataError:
        last = None  # a line half written, by the holder: count from the holder alone
    since = holder.since if last is None else max(last, holder.since)
    if not due_after(every, since, _naive(now), grace).overdue:
        return None
    return Heartbeat(due_after(every, last or since, _naive(now), grace), stuck=holder)


def _beat(
    project: Project, config: Config, schedule: tuple[float, float | None], now: datetime
) -> Heartbeat:
    """The heartbeat's act, under the lock and its one checkpoint."""
    every, grace = schedule
    ledger_ = project.ledger(config)
    events = notable_events(ledger_)
    found = due_in_log(events, every, _naive(now), grace)
    silence, resumed = open_silence(events), None
    last = last_sign_of_life(events) or {}
    if silence and (not found.overdue or silence.since != _since(found)):
        _close(project, config, silence, last)
        resumed, silence = silence.event_id, None
    silence_id, esc_id, opened = None, None, False
    if found.overdue:
        silence_id, esc_id, opened = _silent(project, config, found, silence, last=last, now=now)
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
    if beat.stuck:
        held = beat.stuck
        return (
            f"SILENCE: no observation since {_since(due)}; due {at}, late by "
            f"{duration_text(due.late_by_seconds)}; the observer lock has been held by pid "
            f"{held.pid} since {iso_utc(held.since.replace(tzinfo=UTC))} (stopped? hung?): "
            "nothing journaled or escalated, that needs the lock"
        )
    now = " (escalated now)" if beat.opened else ""
    return (
        f"SILENCE: no observation since {_since(due)}; due {at}, late by "
        f"{duration_text(due.late_by_seconds)}: {beat.silence_id}, {beat.escalation_id}{now}"
    )
