"""Host names reserved for their hosts' login roles (fleet/sql/003_reservations.sql): what
`sealguard fleet reserve` asks of the database, as its owner."""

from dataclasses import dataclass
from typing import Any

from sealguard.errors import RefusedError, UsageError


@dataclass(frozen=True)
class Reserved:
    project: str
    host: str
    role: str
    before: str | None  # the role it was reserved for until now, if another
    enrolled: str | None  # the origin of the log the role already keeps under that name


def reserve(conn: Any, project: str, host: str, role: str) -> Reserved:
    """Reserve `project` on `host` for the login role `role`, in one transaction: refused (4)
    when a log of that name is kept for another role, a usage error (64) when no such login
    role exists. Reserving it again for the same role changes nothing."""
    with conn.transaction():
        conn.execute("LOCK TABLE sealguard.logs IN SHARE ROW EXCLUSIVE MODE")  # as enrol does
        found = conn.execute(
            "SELECT rolcanlogin, pg_has_role(oid, 'sealguard_observer', 'MEMBER') FROM pg_roles "
            "WHERE rolname = %s",
            (role,),
        ).fetchone()
        if found is None or not found[0]:
            raise UsageError(f"no login role {role} in the database: create it first (README)")
        if not found[1]:
            raise UsageError(
                f"the role {role} is not a member of sealguard_observer: a host's role ships "
                f"through it (GRANT sealguard_observer TO {role})"
            )
        kept = conn.execute(
            "SELECT origin, owner FROM sealguard.logs WHERE project = %s AND host = %s "
            "AND retired IS NULL",
            (project, host),
        ).fetchone()
        if kept is not None and kept[1] != role:
            raise RefusedError(
                f"the database keeps {project} on {host} as log {kept[0]} for the role "
                f"{kept[1]}: it is not reserved for {role} (the log keeps its owner)"
            )
        before = conn.execute(
            "SELECT role FROM sealguard.reservations WHERE project = %s AND host = %s",
            (project, host),
        ).fetchone()
        conn.execute(
            "INSERT INTO sealguard.reservations (project, host, role) VALUES (%s, %s, %s) "
            "ON CONFLICT (project, host) DO UPDATE SET role = EXCLUDED.role, "
            "reserved_by = session_user, reserved = clock_timestamp() "
            "WHERE sealguard.reservations.role <> EXCLUDED.role",
            (project, host, role),
        )
    moved = before[0] if before is not None and before[0] != role else None
    return Reserved(project, host, role, moved, kept[0] if kept is not None else None)
