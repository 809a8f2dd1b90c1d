"""A fleet database of its own for each test, on the local PostgreSQL server, and governed
projects that ship to it through the real CLI.

Minimal, until the shared fixtures of tests/postgres.py land: CREATE DATABASE sg_<uuid> as the
server's superuser over its Unix socket, `sealguard fleet init` on it, DROP after the test.
Without a server the tests skip, except under SEALGUARD_REQUIRE_POSTGRES=1 (CI), where they fail.
"""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from sealguard.cli import cli

SOCKET = os.environ.get("SEALGUARD_TEST_PGHOST", "/var/run/postgresql")
ADMIN_URL = f"postgresql:///postgres?host={SOCKET}"


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        if os.environ.get("SEALGUARD_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"SEALGUARD_REQUIRE_POSTGRES=1 but no server at {SOCKET}: {exc}")
        pytest.skip(f"no PostgreSQL server at {SOCKET} ({exc})")


@pytest.fixture
def fleet_url() -> Iterator[str]:
    """The URL of a new, empty fleet database (schema and roles made by `fleet init`)."""
    name = f"sg_{uuid.uuid4().hex[:16]}"
    admin = _admin()
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql:///{name}?host={SOCKET}"
        done = CliRunner().invoke(cli, ["fleet", "init", "--url", url])
        assert done.exit_code == 0, done.output
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def sg(*args: str) -> Result:
    """`sealguard ARGS`, in-process, as a user at a shell (stdout and stderr apart)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


PROBED = """[seal]
paths = ["src/**"]

[[probe]]
name = "answer"
command = ["cat", "answer.txt"]
report = "text"
timeout = "1m"
"""
FILES_ONLY = '[seal]\npaths = ["src/**"]\nfiles_only = true\n'


def governed(
    root: Path, url: str, project: str, host: str, *, probe: bool = True, extra: str = ""
) -> Path:
    """A project on `host` whose acts ship to `url`: one sealed file and, with `probe`, a probe
    that prints answer.txt (not sealed: changing it is a PRODUCT_DRIFT, not an INCIDENT)."""
    root.mkdir(parents=True)
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('hello')\n")
    (root / "answer.txt").write_text("42\n")
    (root / "governance").mkdir()
    config = (PROBED if probe else FILES_ONLY) + extra
    config += f'\n[ledger]\nurl = "{url}"\nproject = "{project}"\nhost = "{host}"\n'
    (root / "governance" / "sealguard.toml").write_text(config)
    return root


MakeHost = Callable[..., Path]
