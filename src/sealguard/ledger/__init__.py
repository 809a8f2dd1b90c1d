"""The governance log: a tamper-evident, crash-safe ledger (INV-D-03).

Callers use `append`, `append_many` and `read_events`; `audit` checks the whole log. Names are
loaded on first use, so a command that only needs the layout does not pay for the crypto.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sealguard.ledger.auditor import LogReport as LogReport
    from sealguard.ledger.auditor import Problem as Problem
    from sealguard.ledger.auditor import audit as audit
    from sealguard.ledger.clock import utc_now as utc_now
    from sealguard.ledger.layout import Ledger as Ledger
    from sealguard.ledger.reader import Event as Event
    from sealguard.ledger.reader import read_events as read_events
    from sealguard.ledger.writer import append as append
    from sealguard.ledger.writer import append_many as append_many
    from sealguard.ledger.writer import one_checkpoint as one_checkpoint

_HOMES = {
    "LogReport": "auditor", "Problem": "auditor", "audit": "auditor", "Ledger": "layout",
    "Event": "reader", "read_events": "reader", "append": "writer", "append_many": "writer",
    "one_checkpoint": "writer", "utc_now": "clock",
}  # fmt: skip

__all__ = [
    "Event", "Ledger", "LogReport", "Problem", "append", "append_many", "audit", "one_checkpoint",
    "read_events", "utc_now",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'sealguard.ledger' has no attribute {name!r}")
    return getattr(import_module(f"sealguard.ledger.{_HOMES[name]}"), name)
