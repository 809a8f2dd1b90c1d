"""The status of observation, as `sealguard status` shows it: the state folded from the log,
the escalations still open, and where the schedule stands (when `[schedule]` is configured).
Reads the log once; returns data for the caller to render."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sealguard import ledger
from sealguard.config import Config
from sealguard.errors import DataError
from sealguard.escalation import outbox
from sealguard.ledger.journal import notable_events
from sealguard.project import Project
from sealguard.schedule import Due, due_in_log
from sealguard.state import ObservationState, standing


@dataclass(frozen=True)
class Status:
    state: ObservationState
    open_escalations: list[outbox.Escalation]
    schedule: Due | None = None  # None: no [schedule] in the config in force


def _events(ledger_: ledger.Ledger) -> list[dict[str, Any]] | None:
    """The log's events; None when it cannot be read."""
    try:
        return notable_events(ledger_) if ledger_.log.is_file() else []
    except DataError:
        return None


def current_state(project: Project, ledger_: ledger.Ledger) -> ObservationState:
    """The state folded from the log; a sealed project whose log is gone, empty or unreadable
    is HALTED (an INCIDENT), never "unsealed"."""
    return standing(_events(ledger_), project.baseline_file.exists())


def status(project: Project, config: Config, now: datetime | None = None) -> Status:
    events = _events(project.ledger(config))
    state = standing(events, project.baseline_file.exists())
    escalations = outbox.fold(events or []).values()
    schedule = None
    if config.schedule is not None:
        moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        every, grace = config.schedule.every_seconds, config.schedule.grace_seconds
        schedule = due_in_log(events or [], every, moment, grace)
    return Status(state, [e for e in escalations if e.open], schedule)
