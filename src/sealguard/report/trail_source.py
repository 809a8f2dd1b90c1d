"""The edge that reads a period's trail from the governance log (report/trail.py folds it).

`load_trail` is what `sealguard report` and a review of a period both use: the same period of
the same log always gives the same trail, hence the same `content_sha256`.
"""

from datetime import UTC, datetime

from sealguard.config import Config
from sealguard.errors import UsageError
from sealguard.ledger.layout import Ledger
from sealguard.ledger.reader import read_first_event
from sealguard.project import Project
from sealguard.report import trail_cache
from sealguard.report.trail import Period, Trail, fold


def period_of(since: datetime | None, until: datetime | None) -> Period:
    """The period between two aware times; a period that ends before it starts is refused."""
    if since is not None and until is not None and until <= since:
        raise UsageError(f"--until {_text(until)} is not after --since {_text(since)}")
    return Period(since=_text(since) if since else None, until=_text(until) if until else None)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def log_key_of(ledger: Ledger) -> dict[str, str]:
    """The log key its first event (the seal) names: origin and verifier key."""
    try:
        first = read_first_event(ledger.log) if ledger.log.is_file() else None
    except OSError:
        first = None
    key = (first or {}).get("log_key")
    return {k: str(v) for k, v in key.items()} if isinstance(key, dict) else {}


def load_trail(
    project: Project, config: Config, since: datetime | None, until: datetime | None
) -> Trail:
    """The trail of the period [since, until) of the project's log (either end may be open)."""
    ledger = project.ledger(config)
    rows, events = trail_cache.load(ledger)
    return fold(period_of(since, until), log_key_of(ledger).get("origin", ""), rows, events)
