"""The fleet database as the log's witness: what it holds of this log, and the log held against it.

The auditor reads the database's view before the log (`view`), then `hold` compares: the lines
the database accepted must be the log's first lines (a log cut back is TRUNCATION, other lines
a FORK: the history was rewritten here), a refusal since its last acceptance is REFUSED, and a
project x host the database keeps under another origin means the project was re-sealed or
re-keyed. A database that cannot be reached is no problem: the host is cut off, its lines wait in
its log, and the next audit that reaches the database holds them.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sealguard.errors import FleetError
from sealguard.fleet.urls import shown
from sealguard.ledger.layout import Ledger
from sealguard.ledger.problem import Problem


@dataclass(frozen=True)
class Refusal:
    at: str
    status: int
    reason: str


@dataclass
class Held:
    """What the fleet database keeps of one log."""

    where: str
    size: int = 0  # lines of the last accepted checkpoint (0: none accepted yet)
    root: bytes | None = None
    accepted: str = "?"
    known: bool = False  # the origin is enrolled
    other: tuple[str, int] | None = None  # (origin, lines) kept for this project x host instead
    refusals: list[Refusal] = field(default_factory=list)  # since the last acceptance
    retired: str | None = None  # when, by whom and why the database's owner retired the log
    error: str | None = None  # why it could not be read


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def view(ledger: Ledger, origin: str | None) -> Held | None:
    """The database's view of the log, or None where no fleet database is configured."""
    place = ledger.fleet
    if place is None:
        return None
    held = Held(shown(place.url))
    from sealguard.fleet import sessions  # psycopg loads only where a fleet is set

    try:
        sessions.over(
            place.url, lambda conn: _read(conn, held, origin, (place.project, place.host))
        )
    except FleetError as exc:
        held.error = exc.message
        if not sessions.cut_off(exc, place.url):
            _say_once(f"not held against the fleet database: {exc.message}")
    return held


_SAID: set[str] = set()


def _say_once(message: str) -> None:
    """One line on stderr per observation (its session: each round of `watch` says it again),
    else per process: a check that could not reach its witness says so (a host cut off, or
    refused its login), though that is no problem of the log's."""
    from sealguard.fleet import sessions

    said = sessions.said()
    memory = said if said is not None else _SAID
    if message not in memory:
        memory.add(message)
        print(f"sealguard: {message}", file=sys.stderr, flush=True)


def _read(conn: object, held: Held, origin: str | None, name: tuple[str, str]) -> None:
    execute = conn.execute  # type: ignore[attr-defined]
    row = execute(
        "SELECT l.owner, session_user, l.project, l.host, l.owner = session_user OR coalesce("
        "(SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false), l.retired, "
        "l.retired_by, l.retired_reason FROM sealguard.logs l WHERE l.origin = %s",
        (origin,),
    ).fetchone()
    if row is not None and not row[4]:  # not this host's doing: never an INCIDENT of its own
        raise FleetError(
            f"{held.where} keeps log {origin} for the role {row[0]} (as {row[2]} on {row[3]}), "
            f"not {row[1]}: another role enrolled this log's origin (a log key is public); the "
            "database's owner should look into it"
        )
    if row is None:
        other = execute(  # another role's log of that name is its own (enrol refuses this host)
            "SELECT origin, size FROM sealguard.logs WHERE project = %s AND host = %s "
            "AND owner = session_user AND retired IS NULL",
            name,
        ).fetchone()
        held.other = (other[0], other[1]) if other else None
        return
    held.known = True
    if row[5] is not None:
        held.retired = f"at {_utc(row[5])} by {row[6]} ({row[7]})"
    last = execute(
        "SELECT size, root, accepted FROM sealguard.checkpoints WHERE origin = %s "
        "ORDER BY size DESC LIMIT 1",
        (origin,),
    ).fetchone()
    if last is not None:
        held.size, held.root, held.accepted = last[0], bytes(last[1]), _utc(last[2])
    refused = execute(  # a refusal stands until the database accepts a checkpoint after it
        "SELECT at, status, reason FROM sealguard.refusals f WHERE f.origin = %s AND f.at > "
        "coalesce((SELECT max(k.accepted) FROM sealguard.checkpoints k WHERE k.origin = %s), "
        "'-infinity') ORDER BY f.id",
        (origin, origin),
    ).fetchall()
    held.refusals = [Refusal(_utc(at), status, reason) for at, status, reason in refused]


def hold(
    held: Held | None, origin: str | None, lines: int, root_at: Callable[[int], bytes | None]
) -> list[Problem]:
    """Every way the log departs from what the fleet database keeps of it."""
    if held is None or held.error is not None:
        return []
    where = held.where
    if not held.known:
        if held.other is None or held.other[0] == origin:
            return []  # not shipped yet: the next act enrols it
        other, size = held.other
        return [
            Problem(
                "WITNESS",
                f"{where} keeps this project on this host as log {other} ({size} lines), but "
                f"this log is {origin}: the project was re-sealed or re-keyed",
                1,
            )
        ]
    found: list[Problem] = []
    if held.retired is not None:  # this installation should not run any more
        found.append(
            Problem(
                "WITNESS",
                f"{where} retired this log {held.retired}: it takes nothing more of it; the "
                "project on this host goes on only as a new log (sealed anew)",
            )
        )
    if held.size > lines:
        found.append(
            Problem(
                "TRUNCATION",
                f"{where} accepted {held.size} lines of this log at {held.accepted} but the log "
                f"holds {lines}: the log was cut back",
                lines + 1,
            )
        )
    elif held.size and root_at(held.size) != held.root:
        found.append(
            Problem(
                "FORK",
                f"the log's first {held.size} lines are not the ones {where} accepted at "
                f"{held.accepted}: the history was rewritten",
            )
        )
    found += [
        Problem("REFUSED", f"{where} refused this log's lines at {r.at}: {r.reason}")
        for r in held.refusals
    ]
    return found
