"""What the fleet database keeps of a log, read back: its row, its checkpoints, its lines.

Reads only (an auditor's role may run them). A whole log is read at one moment: the first
connection opens a repeatable-read transaction and exports its snapshot, and every other
connection (the forked workers' of an audit) reads under that same snapshot, so that appends
landing meanwhile are not half seen. Lines come in seq order through a server-side cursor, many
rows per fetch.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from sealguard.errors import UsageError

FETCH_ROWS = 8192  # rows per fetch: few round trips, bounded memory
Rows = list[tuple[int, bytes, bytes]]  # (seq, line, leaf)


@dataclass(frozen=True)
class LogRow:
    """`sealguard.logs`: one log of the fleet."""

    origin: str
    log_key: str
    project: str
    host: str
    build: str | None
    size: int
    frontier: tuple[bytes, ...]
    retired: str | None = None  # "at T by ROLE (reason)": its owner retired it

    @property
    def name(self) -> str:
        return f"{self.project} on {self.host}"


@dataclass(frozen=True)
class CheckpointRow:
    """`sealguard.checkpoints`: one checkpoint the database accepted."""

    size: int
    root: bytes
    note: str
    accepted: datetime


@dataclass(frozen=True)
class RefusalRow:
    at: datetime
    status: int
    reason: str


@dataclass(frozen=True)
class Bounds:
    """The lowest and the highest seq the entries of a log hold (None: no entry)."""

    low: int | None
    high: int | None

    @property
    def stop(self) -> int:
        """One past the highest seq (0 when there is none)."""
        return max(self.high + 1, 0) if self.high is not None else 0


_LOG_COLUMNS = (
    "origin, log_key, project, host, build, size, frontier, "
    "to_char(retired AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), retired_by, "
    "retired_reason"
)


def _log_row(row: Any) -> LogRow:
    origin, key, project, host, build, size, frontier, retired, by, why = row
    when = f"at {retired} by {by} ({why})" if retired is not None else None
    frontier = tuple(bytes(h) for h in frontier)
    return LogRow(origin, key, project, host, build, size, frontier, when)


def require_schema(conn: psycopg.Connection) -> None:
    """A UsageError unless the database holds the fleet ledger's schema."""
    row = conn.execute("SELECT to_regclass('sealguard.logs')").fetchone()
    if row is None or row[0] is None:
        raise UsageError(
            "this database holds no fleet ledger (schema sealguard): "
            "`sealguard fleet init --url URL` makes it"
        )


def begin_snapshot(conn: psycopg.Connection) -> str:
    """Start a repeatable-read transaction on `conn`; its snapshot's id, for other
    connections to read the same moment (`join_snapshot`)."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    require_schema(conn)
    row = conn.execute("SELECT pg_export_snapshot()").fetchone()
    assert row is not None
    return str(row[0])


def join_snapshot(conn: psycopg.Connection, snapshot: str) -> None:
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))


def logs(conn: psycopg.Connection) -> list[LogRow]:
    """Every log the database keeps, by project, then host."""
    query = f"SELECT {_LOG_COLUMNS} FROM sealguard.logs ORDER BY project, host, origin"
    return [_log_row(row) for row in conn.execute(query)]


def log(conn: psycopg.Connection, origin: str) -> LogRow | None:
    query = f"SELECT {_LOG_COLUMNS} FROM sealguard.logs WHERE origin = %s"
    row = conn.execute(query, (origin,)).fetchone()
    return _log_row(row) if row is not None else None


def origin_of(conn: psycopg.Connection, project: str, host: str) -> str:
    """The origin of the live log kept for `project` on `host` (not a retired one); a
    UsageError when there is none."""
    rows = conn.execute(
        "SELECT origin, retired IS NOT NULL FROM sealguard.logs WHERE project = %s AND host = %s "
        "ORDER BY enrolled",
        (project, host),
    ).fetchall()
    live = [str(origin) for origin, retired in rows if not retired]
    if not rows:
        raise UsageError(f"the fleet database keeps no log of project {project} on host {host}")
    if not live:
        retired = ", ".join(str(origin) for origin, _ in rows)
        raise UsageError(
            f"the fleet database keeps only retired logs of project {project} on host {host} "
            f"({retired}): name one with --origin"
        )
    return live[0]


def checkpoints(conn: psycopg.Connection, origin: str) -> list[CheckpointRow]:
    """Every accepted checkpoint of the log, smallest first (the order they were accepted in)."""
    rows = conn.execute(
        "SELECT size, root, note, accepted FROM sealguard.checkpoints WHERE origin = %s "
        "ORDER BY size",
        (origin,),
    )
    return [CheckpointRow(size, bytes(root), note, at) for size, root, note, at in rows]


def refusals_since(conn: psycopg.Connection, held: LogRow) -> list[RefusalRow]:
    """The refusals since the database last accepted a checkpoint of the log: a refusal stands
    until a checkpoint is accepted after it (as the host's auditor reads them, fleet/held.py)."""
    rows = conn.execute(
        "SELECT f.at, f.status, f.reason FROM sealguard.refusals f WHERE f.origin = %s AND "
        "f.at > coalesce((SELECT max(k.accepted) FROM sealguard.checkpoints k "
        "WHERE k.origin = %s), '-infinity') ORDER BY f.id",
        (held.origin, held.origin),
    )
    return [RefusalRow(at, status, reason) for at, status, reason in rows]


def bounds(conn: psycopg.Connection, origin: str) -> Bounds:
    """From the primary key's index: no scan of the lines."""
    row = conn.execute(
        "SELECT (SELECT min(seq) FROM sealguard.entries WHERE origin = %s), "
        "(SELECT max(seq) FROM sealguard.entries WHERE origin = %s)",
        (origin, origin),
    ).fetchone()
    assert row is not None
    low, high = row
    return Bounds(low, high)


def rows(conn: psycopg.Connection, origin: str, start: int, stop: int) -> Iterator[Rows]:
    """The entries with seq in [start, stop), in seq order, FETCH_ROWS at a time."""
    with conn.cursor(name="sealguard_entries", binary=True) as cursor:
        cursor.execute(
            "SELECT seq, line, leaf FROM sealguard.entries "
            "WHERE origin = %s AND seq >= %s AND seq < %s ORDER BY seq",
            (origin, start, stop),
        )
        while batch := cursor.fetchmany(FETCH_ROWS):
            yield batch


def line_at(conn: psycopg.Connection, origin: str, seq: int) -> bytes | None:
    row = conn.execute(
        "SELECT line FROM sealguard.entries WHERE origin = %s AND seq = %s",
        (origin, seq),
        binary=True,
    ).fetchone()
    return bytes(row[0]) if row is not None else None


def bytes_before(conn: psycopg.Connection, origin: str, seq: int) -> int:
    """Where line `seq` would start in the log file: the bytes of the lines before it, each
    with its newline (a torn_tail event records a fragment's offset in the file)."""
    row = conn.execute(
        "SELECT coalesce(sum(octet_length(line) + 1), 0) FROM sealguard.entries "
        "WHERE origin = %s AND seq >= 0 AND seq < %s",
        (origin, seq),
    ).fetchone()
    assert row is not None
    return int(row[0])
