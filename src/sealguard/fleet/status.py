"""The fleet as `fleet status` and `fleet report` show it: every project x host the database
keeps, and what is judged at the moment it is shown.

One query reads every log with its last accepted checkpoint, its head (fleet/summary.py: what
the host's own `status` said when it last shipped) and its refusals since the database last
accepted it (as the host's auditor counts them: fleet/held.py). The database's times are its
own clock; every time here is naive UTC, as the outbox's. Then, at `now`: each open escalation
is overdue or not (the head holds deadlines), a log the database refused is an INCIDENT
(rewritten, cut back or re-sealed on its host), and a host is silent when it has not reported
for longer than its schedule allows (every + grace), or than `silent_after` without one.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sealguard.fleet import heads
from sealguard.schedule import due

SILENT_AFTER = 24 * 3600.0  # seconds without a report, for a host with no [schedule]
REFUSALS_SHOWN = 50  # per log, on the report page (the newest; every one is in the database)

_STATUS_QUERY = """
SELECT l.origin, l.project, l.host, l.build, l.size, l.enrolled,
       l.retired, l.retired_by, l.retired_reason,
       c.size, c.accepted, encode(c.root, 'hex'),
       h.at_seq, h.updated,
       (CASE jsonb_typeof(h.summary) WHEN 'object' THEN h.summary - 'history'
        ELSE h.summary END)::text,  -- decoded and checked here (fleet/heads.py), not by psycopg
       coalesce(r.refused, '[]'::jsonb)
FROM sealguard.logs l
LEFT JOIN LATERAL (
    SELECT k.size, k.accepted, k.root FROM sealguard.checkpoints k
    WHERE k.origin = l.origin ORDER BY k.size DESC LIMIT 1
) c ON true
LEFT JOIN sealguard.heads h ON h.origin = l.origin
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('at', f.at, 'status', f.status, 'reason', f.reason)
                     ORDER BY f.id) AS refused
    FROM sealguard.refusals f WHERE f.origin = l.origin
        AND f.at > coalesce(c.accepted, '-infinity')  -- until a checkpoint accepted after it
) r ON true
ORDER BY l.project, l.host, l.origin
"""
# Names reserved for a host's role (003_reservations.sql) under which no log is kept yet.
_UNREPORTED_QUERY = """
SELECT r.project, r.host, r.role,
       greatest(r.reserved, (SELECT max(l.retired) FROM sealguard.logs l  -- awaited since then
                             WHERE l.project = r.project AND l.host = r.host))
FROM sealguard.reservations r
WHERE NOT EXISTS (SELECT 1 FROM sealguard.logs l
                  WHERE l.project = r.project AND l.host = r.host AND l.retired IS NULL)
ORDER BY r.project, r.host
"""
_HISTORY_QUERY = "SELECT origin, (summary -> 'history')::text FROM sealguard.heads"
_REFUSALS_QUERY = """
SELECT origin, at, status, reason, after, total FROM (
    SELECT f.*, row_number() OVER w AS n, count(*) OVER (PARTITION BY f.origin) AS total
    FROM sealguard.refusals f WINDOW w AS (PARTITION BY f.origin ORDER BY f.id DESC)
) kept WHERE n <= %s ORDER BY origin, at
"""


@dataclass(frozen=True)
class Refusal:
    at: datetime
    status: int
    reason: str


@dataclass(frozen=True)
class Escalation:
    escalation_id: str
    event_id: str
    classification: str
    created_at: str
    deadline_at: str
    overdue: bool  # at the moment shown


@dataclass(frozen=True)
class Silence:
    since: datetime  # the host's last report, by the database's clock
    seconds: float
    threshold_seconds: float


@dataclass(frozen=True)
class Retirement:
    at: datetime
    by: str
    reason: str


@dataclass(frozen=True)
class Checkpoint:
    size: int
    accepted: datetime
    root: str  # hex


@dataclass(frozen=True)
class LogStatus:
    """One project x host: the database's log, and its head as the host last reported it."""

    origin: str
    project: str
    host: str
    build: str | None
    lines: int  # the lines the database holds
    enrolled: datetime
    checkpoint: Checkpoint | None  # the last one the database accepted
    head_at: int | None  # the lines the head was folded from (None: no head reported)
    head: dict[str, Any] | None
    last_report: datetime
    escalations: list[Escalation]
    refused: list[Refusal]  # since the database last accepted the log
    silent: Silence | None
    head_problem: str | None = None  # a head was reported but does not have a head's shape
    retired: Retirement | None = None  # by the database's owner: the log takes nothing more

    @property
    def state(self) -> str | None:
        return str(self.head["state"]) if self.head else None

    @property
    def incident(self) -> bool:
        """Refused since its last acceptance, and not retired (a retired log's refusals are
        shown, not an INCIDENT: its owner has decided about it)."""
        return bool(self.refused) and self.retired is None

    @property
    def open_escalations(self) -> int:
        return len(self.escalations)

    @property
    def overdue_escalations(self) -> int:
        return sum(e.overdue for e in self.escalations)

    def told(self, key: str) -> Any:
        """A field of the head, or None without one."""
        return self.head.get(key) if self.head else None


@dataclass(frozen=True)
class Unreported:
    """A project x host reserved for a host's role (`fleet reserve`) with no log yet: the
    fleet expects it; silent once it was reserved longer ago than `silent_after`."""

    project: str
    host: str
    role: str
    reserved: datetime
    silent: Silence | None


@dataclass(frozen=True)
class FleetStatus:
    where: str  # the database, as messages show it
    generated_at: datetime
    rows: list[LogStatus]
    unreported: list[Unreported] = field(default_factory=list)

    @property
    def incidents(self) -> int:
        return sum(row.incident for row in self.rows)

    @property
    def silent(self) -> int:
        logs = sum(row.silent is not None for row in self.rows)
        return logs + sum(name.silent is not None for name in self.unreported)

    @property
    def exit_code(self) -> int:
        """3 when the database refused any log since its last acceptance (an INCIDENT on that
        host); a silence is shown, not an exit status (69 is the database unreachable)."""
        return 3 if self.incidents else 0


@dataclass(frozen=True)
class LogDetail:
    """What the report page adds to a log's status: its drifts, incidents and decisions (from
    its head) and its refusals (the newest `REFUSALS_SHOWN`, with how many in all)."""

    history: dict[str, Any]
    refusals: list[tuple[Refusal, int]]  # (refusal, lines held then)
    refusals_total: int
    history_problem: str | None = None  # the head's history does not have its shape


@dataclass(frozen=True)
class FleetReport:
    status: FleetStatus
    details: dict[str, LogDetail] = field(default_factory=dict)  # by origin

    def projects(self) -> dict[str, list[LogStatus]]:
        grouped: dict[str, list[LogStatus]] = {}
        for row in self.status.rows:
            grouped.setdefault(row.project, []).append(row)
        return grouped


def _naive(moment: datetime) -> datetime:
    """Naive UTC (a naive time is UTC already: the hosts journal UTC)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _parsed(text: Any) -> datetime | None:
    try:
        return _naive(datetime.fromisoformat(str(text).replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # not a time, or one UTC cannot hold (year 9999-05:00)
        return None


def _escalation(held: dict[str, Any], now: datetime) -> Escalation:
    deadline = _parsed(held.get("deadline_at"))
    overdue = held.get("overdue_at") is not None or (deadline is not None and now >= deadline)
    return Escalation(
        str(held.get("escalation_id")),
        str(held.get("event_id")),
        str(held.get("classification")),
        str(held.get("created_at")),
        str(held.get("deadline_at")),
        overdue,
    )


def _silence(
    head: dict[str, Any] | None, last: datetime, now: datetime, silent_after: float
) -> Silence | None:
    schedule = (head or {}).get("schedule")
    quiet = (now - last).total_seconds()
    if isinstance(schedule, dict):
        every, grace = float(schedule["every_seconds"]), schedule.get("grace_seconds")
        found = due(every, last, now, None if grace is None else float(grace))
        threshold = every + found.grace_seconds
        return Silence(last, quiet, threshold) if found.overdue else None
    return Silence(last, quiet, silent_after) if quiet > silent_after else None


def _row(record: tuple[Any, ...], now: datetime, silent_after: float) -> LogStatus:
    (origin, project, host, build, lines, enrolled, retired, retired_by, retired_reason,
     cp_size, cp_accepted, cp_root, head_at, updated, head, refused) = record  # fmt: skip
    at = _naive(now)
    head, problem = heads.head(head)  # None with a problem: shown without a head, and why
    checkpoint = Checkpoint(cp_size, _naive(cp_accepted), cp_root) if cp_size is not None else None
    last = _naive(max(t for t in (enrolled, cp_accepted, updated) if t is not None))
    return LogStatus(
        origin=origin,
        project=project,
        host=host,
        build=build,
        lines=lines,
        enrolled=_naive(enrolled),
        checkpoint=checkpoint,
        head_at=head_at,
        head=head,
        last_report=last,
        escalations=[_escalation(e, at) for e in (head or {}).get("escalations", [])],
        refused=[
            Refusal(_parsed(r["at"]) or at, int(r["status"]), str(r["reason"])) for r in refused
        ],
        silent=None if retired is not None else _silence(head, last, at, silent_after),
        head_problem=problem,
        retired=(
            Retirement(_naive(retired), retired_by, retired_reason) if retired is not None else None
        ),
    )


def read(
    conn: Any, now: datetime, silent_after: float = SILENT_AFTER, where: str = ""
) -> FleetStatus:
    """Every log the database keeps, and every name reserved with none yet, as shown at `now`
    (an aware time)."""
    rows = [_row(r, now, silent_after) for r in conn.execute(_STATUS_QUERY).fetchall()]
    return FleetStatus(where, _naive(now), rows, _unreported(conn, _naive(now), silent_after))


def _unreported(conn: Any, now: datetime, silent_after: float) -> list[Unreported]:
    exists = conn.execute("SELECT to_regclass('sealguard.reservations')").fetchone()
    if exists is None or exists[0] is None:  # a database from before 003_reservations.sql
        return []
    found = []
    for project, host, role, reserved in conn.execute(_UNREPORTED_QUERY).fetchall():
        since = _naive(reserved)
        quiet = (now - since).total_seconds()
        silent = Silence(since, quiet, silent_after) if quiet > silent_after else None
        found.append(Unreported(project, host, role, since, silent))
    return found


def read_report(
    conn: Any, now: datetime, silent_after: float = SILENT_AFTER, where: str = ""
) -> FleetReport:
    """`read`, with each log's history and refusals, for the report page."""
    found = read(conn, now, silent_after, where)
    histories = dict(conn.execute(_HISTORY_QUERY).fetchall())
    refusals: dict[str, list[tuple[Refusal, int]]] = {}
    totals: dict[str, int] = {}
    for origin, at, status, reason, after, total in conn.execute(
        _REFUSALS_QUERY, (REFUSALS_SHOWN,)
    ).fetchall():
        refusals.setdefault(origin, []).append((Refusal(_naive(at), status, reason), after))
        totals[origin] = total
    details = {}
    for row in found.rows:
        history, problem = heads.history(histories.get(row.origin))
        details[row.origin] = LogDetail(
            history,
            refusals.get(row.origin, []),
            totals.get(row.origin, 0),
            problem,
        )
    return FleetReport(found, details)
