"""Shipping many acts in a row over one kept connection (fleet/shipping.py `kept_connections`).

A new connection costs the server more than the act it carries (a backend started, the append
function compiled for the session: benchmarks/fleet.py). A process that ships acts in a row may
keep one connection for all of them; every other shipment still connects and disconnects, so
that a host holds no connection between its acts. On the run's own server (tests/postgres.py).
"""

import dataclasses
import os
from pathlib import Path

import psycopg
import pytest

from sealguard.fleet import shipping
from sealguard.ledger import Ledger, append, read_events
from sealguard.ledger.layout import FleetPlace

pytestmark = pytest.mark.usefixtures("pg_server")


def _ledger(folder: Path, url: str, host: str = "h1") -> Ledger:
    return dataclasses.replace(Ledger.in_folder(folder), fleet=FleetPlace(url, "p", host))


def _sessions(url: str) -> list[tuple[int, object]]:
    """The sealguard sessions open on the test's database: (pid, when each started)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, backend_start FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'sealguard'"
        ).fetchall()
    return [(row[0], row[1]) for row in rows]


def _last_query(url: str, pid: int) -> object:
    """When the session `pid` last ran a statement."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT query_start FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
    assert row is not None
    return row[0]


def _held(url: str) -> list[bytes]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT line FROM sealguard.entries ORDER BY origin, seq").fetchall()
    return [bytes(row[0]) for row in rows]


def _log_lines(ledger: Ledger) -> list[bytes]:
    return ledger.log.read_bytes().splitlines()


def test_acts_in_a_row_share_one_kept_connection(
    fleet_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = _ledger(tmp_path / "log", fleet_url)
    with shipping.kept_connections():
        append(ledger, "start", {})
        first = _sessions(fleet_url)
        for n in range(3):
            append(ledger, "observation", {"n": n})
        assert _sessions(fleet_url) == first  # the very same backend carried every act
        assert len(first) == 1
    assert _sessions(fleet_url) == []  # closed on leaving
    assert _held(fleet_url) == _log_lines(ledger)
    assert capsys.readouterr().err == ""


def test_outside_a_kept_session_no_connection_stays_open(fleet_url: str, tmp_path: Path) -> None:
    ledger = _ledger(tmp_path / "log", fleet_url)
    append(ledger, "start", {})
    append(ledger, "observation", {"n": 1})
    assert _sessions(fleet_url) == []
    assert _held(fleet_url) == _log_lines(ledger)


def test_a_kept_connection_the_server_closed_is_replaced_without_a_warning(
    fleet_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = _ledger(tmp_path / "log", fleet_url)
    with shipping.kept_connections():
        append(ledger, "start", {})
        [(pid, _)] = _sessions(fleet_url)
        with psycopg.connect(fleet_url, autocommit=True) as conn:  # as a server restart does
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        append(ledger, "observation", {"n": 1})
        [(again, _)] = _sessions(fleet_url)
        assert again != pid
    assert capsys.readouterr().err == ""  # the act was shipped, not left owed
    assert _held(fleet_url) == _log_lines(ledger)
    assert len(read_events(ledger.log)) == 2


def test_a_kept_connection_serves_each_database_and_each_log_apart(
    fleet_url: str, tmp_path: Path
) -> None:
    one, two = _ledger(tmp_path / "one", fleet_url, "h1"), _ledger(tmp_path / "two", fleet_url)
    two = dataclasses.replace(two, fleet=FleetPlace(fleet_url, "p", "h2"))
    with shipping.kept_connections():
        for n in range(2):
            append(one, "observation", {"n": n})
            append(two, "observation", {"n": n})
        assert len(_sessions(fleet_url)) == 1  # one database: one connection for both logs
    assert sorted(_held(fleet_url)) == sorted(_log_lines(one) + _log_lines(two))


def test_a_refused_shipment_keeps_the_connection_and_warns(
    fleet_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = _ledger(tmp_path / "log", fleet_url)
    other = _ledger(tmp_path / "other", fleet_url)  # the same project x host, another log key
    with shipping.kept_connections():
        append(ledger, "start", {})
        [session] = _sessions(fleet_url)
        append(other, "start", {})  # refused: the database keeps p on h1 under another origin
        assert "refused to keep log" in capsys.readouterr().err
        append(ledger, "observation", {"n": 1})
        assert _sessions(fleet_url) == [session]
    assert _held(fleet_url) == _log_lines(ledger)


def test_a_forked_child_does_not_use_its_parents_kept_connection(
    fleet_url: str, tmp_path: Path
) -> None:
    ledger = _ledger(tmp_path / "log", fleet_url)
    with shipping.kept_connections():
        append(ledger, "start", {})
        [session] = _sessions(fleet_url)
        used = _last_query(fleet_url, session[0])
        child = os.fork()
        if child == 0:  # pragma: no cover (the child's coverage is not collected)
            code = 0
            try:
                append(ledger, "observation", {"n": 1})
            except BaseException:
                code = 1
            os._exit(code)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert _sessions(fleet_url) == [session]
        assert _last_query(fleet_url, session[0]) == used  # the child did not talk over it
        append(ledger, "observation", {"n": 2})
    assert _held(fleet_url) == _log_lines(ledger)


def test_a_server_restart_between_acts_costs_a_kept_connection_nothing(
    fleet_url: str, tmp_path: Path, restart_server, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = _ledger(tmp_path / "log", fleet_url)
    with shipping.kept_connections():
        append(ledger, "start", {})
        restart_server()
        append(ledger, "observation", {"n": 1})
        assert len(_sessions(fleet_url)) == 1
    assert capsys.readouterr().err == ""
    assert _held(fleet_url) == _log_lines(ledger)
