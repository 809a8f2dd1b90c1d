"""A fleet database for each test (the shared server of tests/postgres.py, `sealguard fleet
init` on the test's own database), and governed projects that ship to it through the real CLI.
"""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result

from sealguard.cli import cli

if TYPE_CHECKING:
    from .postgres import PgRole


@pytest.fixture
def fleet_url(pg_admin_url: str) -> str:
    """The URL of a new, empty fleet database (schema and roles made by `fleet init`)."""
    done = CliRunner().invoke(cli, ["fleet", "init", "--url", pg_admin_url])
    assert done.exit_code == 0, done.output
    return pg_admin_url


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


def enrol_as(role: "PgRole", origin: str, project: str, host: str) -> tuple[int, str]:
    """`sealguard.enrol` of `origin` under `project` on `host` as `role` (an observer's login):
    its answer, or 403 and the message of the database's refusal (a reserved name's trigger)."""
    import psycopg

    with role.connect() as conn:
        try:
            found = conn.execute(
                "SELECT status, reason FROM sealguard.enrol(%s, 'k', %s, %s, NULL)",
                (origin, project, host),
            ).fetchone()
        except psycopg.errors.InsufficientPrivilege as exc:
            return 403, str(exc.diag.message_primary)
    assert found is not None
    return int(found[0]), str(found[1])
