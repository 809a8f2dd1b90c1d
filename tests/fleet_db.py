"""A database per test in the machine's PostgreSQL (until tests/postgres.py of the pginfra branch
lands: same fixture names and shapes, `pg_database` and `pg_admin_url`, so that switching is an
import).

The tests connect as the user running them, a superuser by peer authentication over the socket
in /var/run/postgresql (as .ci/run sets it up), make `sg_<random>` and drop it after, with the
LOGIN roles `login_role()` made. Roles log in over TCP on 127.0.0.1 with a password
(PGPASSWORD), as an observer on another host would. Without a server the tests skip.
"""

import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import sql

SOCKET = os.environ.get("SEALGUARD_TEST_PGHOST", "/var/run/postgresql")
PORT = int(os.environ.get("SEALGUARD_TEST_PGPORT", "5432"))

Connection = psycopg.Connection[tuple[Any, ...]]


def _admin(database: str = "postgres") -> str:
    return f"postgresql:///{database}?host={SOCKET}&port={PORT}"


@dataclass(frozen=True)
class PgRole:
    """A LOGIN role with a password; its URL holds no password (it goes in PGPASSWORD)."""

    name: str
    password: str
    database: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.name}@127.0.0.1:{PORT}/{self.database}"

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**(os.environ if base is None else base), "PGPASSWORD": self.password}

    def connect(self) -> Connection:
        return psycopg.connect(self.url, password=self.password, autocommit=True)


@dataclass
class PgDatabase:
    name: str
    roles: list[str] = field(default_factory=list)

    @property
    def admin_url(self) -> str:
        return _admin(self.name)

    def connect(self) -> Connection:
        """A superuser connection to this database, in autocommit mode."""
        return psycopg.connect(self.admin_url, autocommit=True)

    def login_role(self, member_of: Sequence[str] = (), *options: str) -> PgRole:
        """A new LOGIN role with a random password, IN ROLE each of member_of."""
        role = PgRole(f"sg_role_{secrets.token_hex(6)}", secrets.token_urlsafe(18), self.name)
        extra = sql.SQL(" ").join(sql.SQL(option) for option in options)
        with self.connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} {}").format(
                    sql.Identifier(role.name), sql.Literal(role.password), extra
                )
            )
            self.roles.append(role.name)
            for group in member_of:
                conn.execute(
                    sql.SQL("GRANT {} TO {}").format(
                        sql.Identifier(group), sql.Identifier(role.name)
                    )
                )
        return role


def _server() -> Connection:
    try:
        return psycopg.connect(_admin(), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("SEALGUARD_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"SEALGUARD_REQUIRE_POSTGRES=1 but no PostgreSQL at {SOCKET}: {exc}")
        pytest.skip(f"no PostgreSQL at {SOCKET}: {str(exc).strip()}")


@pytest.fixture
def pg_database() -> Iterator[PgDatabase]:
    """A fresh database, dropped after the test with the LOGIN roles it made."""
    database = PgDatabase(f"sg_{secrets.token_hex(6)}")
    with _server() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database.name)))
    try:
        yield database
    finally:
        with _server() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(database.name)
                )
            )
            for role in database.roles:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def pg_admin_url(pg_database: PgDatabase) -> str:
    return pg_database.admin_url
