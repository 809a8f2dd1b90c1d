"""The PostgreSQL and network-namespace fixtures themselves, against the real server."""

import subprocess
import sys
from urllib.parse import urlsplit

import psycopg
import pytest

from .netns import Netns, open_netns
from .postgres import PgDatabase, PgServer

# A client in its own process, as an observer is: connects to argv[1] (the password, if any, from
# PGPASSWORD) and prints who it is, or prints the error and exits 1.
CLIENT = """
import sys, psycopg
try:
    with psycopg.connect(sys.argv[1], connect_timeout=2) as conn:
        print(conn.execute("SELECT current_user").fetchone()[0])
except psycopg.OperationalError as error:
    print(error)
    sys.exit(1)
"""

# What earlier runs of test_each_test_has_its_own_database_and_roles made.
_MADE: list[tuple[str, str]] = []


def _exists(server: PgServer, catalog: str, column: str, name: str) -> bool:
    with server.connect() as conn:
        query = f"SELECT count(*) FROM {catalog} WHERE {column} = %s"
        return bool(conn.execute(query, [name]).fetchone()[0])  # type: ignore[index]


@pytest.mark.parametrize("run", ["first", "second"])
def test_each_test_has_its_own_database_and_roles(run: str, pg_database: PgDatabase) -> None:
    with psycopg.connect(pg_database.admin_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('public.marker')").fetchone() == (None,)
        conn.execute("CREATE TABLE marker (run text)")
        conn.execute("INSERT INTO marker VALUES (%s)", [run])
        # a role the code under test makes itself (as the fleet's install makes its groups)
        conn.execute("CREATE ROLE sealguard_fixture_group NOLOGIN")
    role = pg_database.login_role(member_of=["sealguard_fixture_group"])
    for database, role_name in _MADE:  # the first run's, when this is the second
        assert not _exists(pg_database.server, "pg_database", "datname", database)
        assert not _exists(pg_database.server, "pg_roles", "rolname", role_name)
    assert _exists(pg_database.server, "pg_database", "datname", pg_database.name)
    _MADE.append((pg_database.name, role.name))


def _client(url: str, env: dict[str, str], netns: Netns | None = None) -> tuple[int, str]:
    argv = [sys.executable, "-c", CLIENT, url]
    run = netns.run if netns else subprocess.run
    done = run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, (done.stdout + done.stderr).strip()


def test_a_role_logs_in_over_tcp_with_pgpassword_only(pg_database: PgDatabase) -> None:
    role = pg_database.login_role()
    assert urlsplit(role.url).password is None
    assert urlsplit(role.url).hostname == "127.0.0.1"
    without = {k: v for k, v in role.env().items() if k != "PGPASSWORD"}

    assert _client(role.url, role.env()) == (0, role.name)
    code, said = _client(role.url, without)
    assert code == 1
    assert "no password supplied" in said
    code, said = _client(role.url, {**without, "PGPASSWORD": role.password + "x"})
    assert code == 1
    assert f'password authentication failed for user "{role.name}"' in said


def test_restart_server_really_restarts_it(pg_server: PgServer, pg_admin_url: str) -> None:
    def started(conn: psycopg.Connection[tuple[object, ...]]) -> object:
        return conn.execute("SELECT pg_postmaster_start_time()").fetchone()

    before = psycopg.connect(pg_admin_url, autocommit=True)
    was = started(before)
    backend = before.info.backend_pid

    pg_server.restart()

    with pytest.raises(psycopg.OperationalError):
        before.execute("SELECT 1")
    before.close()
    with psycopg.connect(pg_admin_url, autocommit=True) as after:
        assert started(after) != was
        assert after.info.backend_pid != backend


def test_stop_refuses_connections_until_start(pg_server: PgServer) -> None:
    pg_server.stop()
    assert not pg_server.running()
    pg_server.start()
    assert pg_server.running()


def test_a_process_in_a_namespace_reaches_the_server_until_cut(
    pg_database: PgDatabase, netns: Netns
) -> None:
    role = pg_database.login_role()
    url = role.url_at(netns.host_address)
    # the namespace is another host: the server's loopback is not reachable from it
    code, said = _client(role.url, role.env(), netns)
    assert code == 1
    assert "Connection refused" in said

    assert _client(url, role.env(), netns) == (0, role.name)

    netns.cut()
    code, said = _client(url, role.env(), netns)
    assert code == 1
    assert "timeout expired" in said or "No route to host" in said
    assert _client(role.url, role.env()) == (0, role.name)  # the server itself is up

    netns.restore()
    assert _client(url, role.env(), netns) == (0, role.name)


def _shown(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout


def test_the_namespace_and_its_links_are_gone_after_close(netns: Netns) -> None:
    with open_netns() as inner:
        sleeper = inner.popen(["sleep", "600"])
        assert inner.name in _shown("netns", "list")
        assert inner.host_link in _shown("-o", "link", "show")
    assert sleeper.poll() is not None
    assert inner.name not in _shown("netns", "list")
    assert inner.host_link not in _shown("-o", "link", "show")
    assert netns.name in _shown("netns", "list")  # the other, still open, is untouched
