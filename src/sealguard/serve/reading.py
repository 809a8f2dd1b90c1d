"""One look at the governed project, as every route shows it: the state the log folds to, its
escalations, its observations and when the log was last fully audited.

Nothing here is kept between requests but the observation index (serve/history.py), which is
itself brought up to date from the log each time. Every read path is the one `sealguard status`
takes (observe/status.py: the journal's signed digest, then the lines after it), and none of them
takes the log's lock or writes a file: the signed caches (the verified state, the digest) are
only read, and written by the commands that append. So the dashboard never holds up `observe`,
and an observation never waits for a page.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sealguard.config import Config
from sealguard.errors import DataError
from sealguard.escalation import outbox
from sealguard.ledger import verified
from sealguard.ledger.journal import log_public_key, notable_events, one_command
from sealguard.ledger.layout import Ledger
from sealguard.project import Project
from sealguard.schedule import Due, due_in_log
from sealguard.seal.settings import config_in_force
from sealguard.serve.history import History
from sealguard.state import ObservationState, standing


@dataclass(frozen=True)
class Reading:
    project: Project
    ledger: Ledger
    now: datetime  # naive UTC, as the outbox's times are
    state: ObservationState
    escalations: list[outbox.Escalation]
    events: list[dict[str, Any]]  # the notable events (ledger/journal.py); [] when unreadable
    history: History
    full_audit_at: datetime | None  # naive UTC
    log_version: str
    schedule: Due | None = None  # None: no [schedule] in the config in force
    problem: str | None = None  # why the log cannot be read (then the state is HALTED)

    @property
    def open_escalations(self) -> list[outbox.Escalation]:
        return [e for e in self.escalations if e.open]

    @property
    def overdue_escalations(self) -> list[outbox.Escalation]:
        return [e for e in self.open_escalations if e.overdue_at or self.now >= e.deadline_at]


def log_version(project: Project) -> str:
    """What changes whenever the log, its checkpoint or its verified state does (their inode,
    size and mtime): three stats, no read."""
    ledger = Ledger.in_folder(project.runtime)
    found = [verified.identity(p) for p in (ledger.log, ledger.checkpoint, ledger.verified)]
    return "-".join(f"{i[1]:x}.{i[2]:x}.{i[3]:x}" if i else "none" for i in found)


def _full_audit_at(ledger: Ledger) -> datetime | None:
    """When the log was last audited in full (ledger/verified.py's `full_at`: `verify --full`,
    or the periodic full audit of `verify` and `observe`),
    as the log key signed it; None when no signed state says."""
    public = log_public_key(ledger) if ledger.log.is_file() else None
    state = verified.load(ledger, public) if public else None
    if state is None or not state.full_at:
        return None
    moment = datetime.fromisoformat(state.full_at)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _events(ledger: Ledger) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The notable events, or None and why when the log cannot be read."""
    try:
        return (notable_events(ledger) if ledger.log.is_file() else []), None
    except DataError as exc:
        return None, exc.message


def _schedule(config: Config, events: list[dict[str, Any]], now: datetime) -> Due | None:
    """When the next observation is due and how late it is, as `status` says it."""
    if config.schedule is None:
        return None
    every, grace = config.schedule.every_seconds, config.schedule.grace_seconds
    return due_in_log(events, every, now, grace)


def read(project: Project, history: History) -> Reading:
    """The project as its log stands now."""
    version = log_version(project)
    now = datetime.now(UTC).replace(tzinfo=None)
    with one_command():  # the config, the state and the outbox fold one read of the log
        config = config_in_force(project)
        ledger = project.ledger(config)
        events, problem = _events(ledger)
        state = standing(events, project.baseline_file.exists())
        escalations = list(outbox.fold(events or []).values())
    return Reading(
        project=project,
        ledger=ledger,
        now=now,
        state=state,
        escalations=escalations,
        events=events or [],
        history=history.refresh(),
        full_audit_at=_full_audit_at(ledger),
        log_version=version,
        schedule=_schedule(config, events or [], now),
        problem=problem,
    )
