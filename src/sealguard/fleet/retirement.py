"""Retiring a log (`sealguard fleet retire`, `sealguard.retire` in fleet/sql/001_ledger.sql):
the database's owner records when, who and why; the log takes nothing more and stays as it is,
and its project x host is free for a new log: a host rebuilt, or re-sealed on purpose."""

from dataclasses import dataclass
from typing import Any

from sealguard.errors import RefusedError, UsageError


@dataclass(frozen=True)
class Retired:
    origin: str
    project: str
    host: str
    lines: int


def retire(conn: Any, origin: str, reason: str) -> Retired:
    """Retire `origin` with `reason`, in one transaction: a usage error (64) for a blank reason,
    refused (4) for a log the database does not keep or retired already."""
    import psycopg

    if not reason.strip():
        raise UsageError("--reason: a retirement says why (an incident, a disk replaced, …)")
    try:
        with conn.transaction():
            found = conn.execute(
                "SELECT project, host, size FROM sealguard.retire(%s, %s)", (origin, reason)
            ).fetchone()
    except (psycopg.errors.NoDataFound, psycopg.errors.ObjectNotInPrerequisiteState) as exc:
        raise RefusedError(exc.diag.message_primary or str(exc)) from None
    return Retired(origin, str(found[0]), str(found[1]), int(found[2]))
