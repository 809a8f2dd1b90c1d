"""The fleet ledger is append-only in the database itself: real LOGIN roles, over TCP with a
password in PGPASSWORD, cannot rewrite, delete or truncate the lines, checkpoints and refusals,
whether they own the schema (the triggers refuse) or observe (no such right), and an observer
cannot insert a line but through `sealguard.append`."""

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql

from sealguard.ledger import Ledger, append

from .fleet_logs import acts, origin_of, shipping
from .shipped_logs import rewrite_history

if TYPE_CHECKING:
    from .postgres import PgDatabase, PgRole


CHANGES = {
    "UPDATE": "UPDATE sealguard.{} SET origin = origin",
    "DELETE": "DELETE FROM sealguard.{}",
    "TRUNCATE": "TRUNCATE sealguard.{}",
}
TABLES = ("entries", "checkpoints", "refusals")


def _sealguard(*args: str, role: "PgRole") -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "sealguard", *args]
    return subprocess.run(
        argv, env=role.env(), capture_output=True, text=True, timeout=120, check=False
    )


def _refused(role: "PgRole", statement: str) -> str:
    """The one-line error with which the database refuses `statement` as `role`."""
    with role.connect() as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute(statement)
    assert caught.value.sqlstate == "42501"  # insufficient_privilege
    return str(caught.value).splitlines()[0]


@pytest.fixture
def fleet(
    pg_database: "PgDatabase", tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple["PgRole", "PgRole", "PgRole", Ledger]:
    """(owner, observer, auditor, a shipped log): the schema made by a role that may create
    schemas and roles, a log shipped by an observer's role, both over TCP."""
    owner = pg_database.login_role((), "CREATEROLE")
    with pg_database.connect() as conn:
        conn.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(pg_database.name), sql.Identifier(owner.name)
            )
        )
    done = _sealguard("fleet", "init", "--url", owner.url, role=owner)
    assert done.returncode == 0, done.stderr
    observer = pg_database.login_role(["sealguard_observer"])
    auditor = pg_database.login_role(["sealguard_auditor"])
    monkeypatch.setenv("PGPASSWORD", observer.password)
    ledger = acts(shipping(tmp_path / "rt", observer.url), 3)
    monkeypatch.delenv("PGPASSWORD")
    with observer.connect() as conn:  # the database keeps the refusal: a row to protect
        rewrite_history(conn, ledger)
    return owner, observer, auditor, ledger


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_the_owner_cannot_change_the_log_tables(
    change: str, fleet: tuple["PgRole", "PgRole", "PgRole", Ledger]
) -> None:
    owner = fleet[0]
    for table in TABLES:
        message = _refused(owner, CHANGES[change].format(table))
        assert message == f"sealguard.{table}: {change} refused: the fleet ledger is append-only"


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_an_observer_cannot_change_the_log_tables(
    change: str, fleet: tuple["PgRole", "PgRole", "PgRole", Ledger]
) -> None:
    observer = fleet[1]
    for table in TABLES:
        assert _refused(observer, CHANGES[change].format(table)) == (
            f"permission denied for table {table}"
        )


def test_an_observer_cannot_insert_a_line_directly(
    fleet: tuple["PgRole", "PgRole", "PgRole", Ledger],
) -> None:
    observer, ledger = fleet[1], fleet[3]
    origin = origin_of(ledger)
    statement = sql.SQL(
        "INSERT INTO sealguard.entries (origin, seq, line, leaf) VALUES ({}, 3, 'x', 'y')"
    ).format(sql.Literal(origin))
    assert _refused(observer, statement.as_string()) == "permission denied for table entries"


def test_after_every_attempt_an_auditor_finds_the_log_intact(
    fleet: tuple["PgRole", "PgRole", "PgRole", Ledger],
) -> None:
    owner, observer, auditor, ledger = fleet
    for role in (owner, observer):
        for change in CHANGES.values():
            for table in TABLES:
                _refused(role, change.format(table))
    origin = origin_of(ledger)
    with pytest.MonkeyPatch.context() as patch:  # one more act: the refusal becomes history
        patch.setenv("PGPASSWORD", observer.password)
        append(ledger, "test_event", {"n": 3})
    done = _sealguard("log", "verify", "--url", auditor.url, "--origin", origin, role=auditor)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"INTACT: log {origin} (calc on h1) in {auditor.url}: 4 lines")
