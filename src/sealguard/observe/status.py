"""The status of observation, as `sealguard status` shows it: the state folded from the log,
and the escalations still open. Reads the log once; returns data for the caller to render."""

from dataclasses import dataclass
from typing import Any

from sealguard import ledger
from sealguard.config import Config
from sealguard.errors import DataError
from sealguard.escalation import outbox
from sealguard.ledger.journal import notable_events
from sealguard.project import Project
from sealguard.state import ObservationState, standing


@dataclass(frozen=True)
class Status:
    state: ObservationState
    open_escalations: list[outbox.Escalation]


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


def status(project: Project, config: Config) -> Status:
    events = _events(project.ledger(config))
    state = standing(events, project.baseline_file.exists())
    escalations = outbox.fold(events or []).values()
    return Status(state, [e for e in escalations if e.open])
