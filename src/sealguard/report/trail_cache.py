"""A cache of the timeline's rows at the log's verified state (placeholder: always misses)."""

from typing import Any

from sealguard.ledger.layout import Ledger
from sealguard.report.trail import Observation


def load(ledger: Ledger) -> tuple[list[Observation], list[dict[str, Any]]] | None:
    return None
