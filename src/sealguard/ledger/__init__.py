"""The governance log: a tamper-evident, crash-safe ledger (INV-D-03).

Callers use `append`, `append_many` and `read_events`; `audit` checks the whole log.
"""

from sealguard.ledger.auditor import LogReport, Problem, audit
from sealguard.ledger.layout import Ledger
from sealguard.ledger.reader import Event, read_events
from sealguard.ledger.writer import append, append_many, utc_now

__all__ = [
    "Event",
    "Ledger",
    "LogReport",
    "Problem",
    "append",
    "append_many",
    "audit",
    "read_events",
    "utc_now",
]
