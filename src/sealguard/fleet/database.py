"""The connection to the fleet's PostgreSQL database, and its schema.

The password never goes in the URL (nor in sealguard.toml): libpq reads it from PGPASSWORD or
~/.pgpass. Every failure to reach or use the database is one `FleetError` line; an observer treats
it as "cut off" and keeps its lines in its own log until the next act ships them.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

import psycopg
from psycopg import sql

from sealguard.errors import FleetError, UsageError
from sealguard.fleet.urls import shown, url_problem

SCHEMA = "sealguard"
ROLES = ("sealguard_observer", "sealguard_auditor")
CONNECT_TIMEOUT = 3  # seconds: a host cut off must not hold its observer's lock for long
STATEMENT_TIMEOUT_MS = 30_000
# A link cut while a connection is open: each end gives up after about LINK_TIMEOUT_S seconds
# without an answer (TCP keepalives while it waits, TCP_USER_TIMEOUT while its data is unacked)
# instead of TCP's own 15 minutes of retries (2 hours idle, for the server): the act ends with
# its warning, and the server ends the transaction, which holds the log's row, so that the
# host's next act is not kept waiting.
LINK_TIMEOUT_S = 10
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 4, 2, 3  # 4 + 2 x 3 = LINK_TIMEOUT_S
_OPTIONS = (
    f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c tcp_keepalives_idle={KEEPALIVE_IDLE_S} "
    f"-c tcp_keepalives_interval={KEEPALIVE_INTERVAL_S} -c tcp_keepalives_count={KEEPALIVE_COUNT} "
    f"-c tcp_user_timeout={LINK_TIMEOUT_S * 1000}"
)


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# A host cut off waits CONNECT_TIMEOUT once per command, not at each of its audits and appends.
_UNREACHABLE: dict[str, tuple[float, str]] = {}
RETRY_AFTER = 60.0  # seconds: then a long-running command (`watch`) tries again


class Unreachable(FleetError):
    """The database could not be reached (or refused the login): the host is cut off."""


def open_connection(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A new connection, which the caller closes; a failure to connect as one FleetError."""
    problem = url_problem(url)
    if problem is not None:
        raise UsageError(f"{shown(url)}: {problem}")
    failed = _UNREACHABLE.get(url)
    if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER:
        raise Unreachable(failed[1])
    try:
        conn = psycopg.connect(
            url,
            connect_timeout=CONNECT_TIMEOUT,
            autocommit=autocommit,
            options=_OPTIONS,
            application_name="sealguard",
            keepalives=1,
            keepalives_idle=KEEPALIVE_IDLE_S,
            keepalives_interval=KEEPALIVE_INTERVAL_S,
            keepalives_count=KEEPALIVE_COUNT,
            tcp_user_timeout=LINK_TIMEOUT_S * 1000,
        )
    except psycopg.Error as exc:
        message = f"{shown(url)}: cannot connect ({_message(exc)})"
        _UNREACHABLE[url] = (time.monotonic(), message)
        raise Unreachable(message) from None
    _UNREACHABLE.pop(url, None)
    return conn


def failure(url: str, exc: psycopg.Error) -> FleetError:
    """A failure on a connection as the one line the user reads."""
    if isinstance(
        exc,
        psycopg.errors.InvalidSchemaName
        | psycopg.errors.UndefinedFunction
        | psycopg.errors.UndefinedTable,
    ):
        return FleetError(
            f"{shown(url)}: {_message(exc)}: the fleet ledger's schema is not there (or older "
            "than this sealguard); its owner runs `sealguard fleet init --url …`"
        )
    return FleetError(f"{shown(url)}: {_message(exc)}")


@contextmanager
def connect(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection, closed on leaving; every database failure as one FleetError line."""
    conn = open_connection(url, autocommit=autocommit)
    try:
        yield conn
    except psycopg.Error as exc:
        raise failure(url, exc) from None
    finally:
        conn.close()


def _sql_files() -> list[tuple[int, str, str]]:
    found = []
    for item in resources.files("sealguard.fleet").joinpath("sql").iterdir():
        name = item.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, item.read_text(encoding="utf-8")))
    return sorted(found)


def installed_versions(conn: psycopg.Connection) -> set[int]:
    exists = conn.execute("SELECT to_regclass('sealguard.schema_versions')").fetchone()
    if exists is None or exists[0] is None:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM sealguard.schema_versions")}


def install(conn: psycopg.Connection) -> list[str]:
    """Create the roles, the schema and every SQL file not applied yet, in one transaction;
    the names of the files applied."""
    applied: list[str] = []
    with conn.transaction():
        for role in ROLES:
            found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if found is None:
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS sealguard.schema_versions ("
            " version int PRIMARY KEY, name text NOT NULL,"
            " applied timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
        conn.execute("GRANT SELECT ON sealguard.schema_versions TO sealguard_observer")
        conn.execute("GRANT SELECT ON sealguard.schema_versions TO sealguard_auditor")
        done = installed_versions(conn)
        for version, name, text in _sql_files():
            if version in done:
                continue
            conn.execute(text.encode())  # several statements: the simple query protocol
            conn.execute(
                "INSERT INTO sealguard.schema_versions (version, name) VALUES (%s, %s)",
                (version, name),
            )
            applied.append(name)
        conn.execute(_OWNED_BY_THE_SCHEMAS_OWNER)
    return applied


# Everything in the schema belongs to the schema's owner, whoever applied it: an upgrade run by
# another administrator (a superuser) would otherwise leave new tables that the owner's
# functions (enrol, append: SECURITY DEFINER) and the owner's `fleet reserve` may not read. At
# every run; what the running role may not give away (only a superuser takes an object from
# another role) is left, and said as a WARNING by the server.
_OWNED_BY_THE_SCHEMAS_OWNER = b"""
DO $$
DECLARE
    owner name := (SELECT pg_get_userbyid(nspowner) FROM pg_namespace
                   WHERE nspname = 'sealguard');
    item record;
BEGIN
    FOR item IN SELECT c.oid::regclass AS name FROM pg_class c
            WHERE c.relnamespace = 'sealguard'::regnamespace AND c.relkind IN ('r', 'p', 'v')
              AND pg_get_userbyid(c.relowner) <> owner LOOP
        BEGIN
            EXECUTE format('ALTER TABLE %s OWNER TO %I', item.name, owner);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'sealguard: % is not %''s: run fleet init as a superuser',
                item.name, owner;
        END;
    END LOOP;
    FOR item IN SELECT f.oid::regprocedure AS name FROM pg_proc f
            WHERE f.pronamespace = 'sealguard'::regnamespace
              AND pg_get_userbyid(f.proowner) <> owner LOOP
        BEGIN
            EXECUTE format('ALTER FUNCTION %s OWNER TO %I', item.name, owner);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'sealguard: % is not %''s: run fleet init as a superuser',
                item.name, owner;
        END;
    END LOOP;
END $$
"""


def expected_versions() -> set[int]:
    return {version for version, _, _ in _sql_files()}
