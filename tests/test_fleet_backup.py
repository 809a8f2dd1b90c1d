"""What the README says of backups: a dump restored over a newer fleet database is older than the
hosts' logs; they see nothing wrong, and their next act ships what it lacks again."""

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import Result

from sealguard.fleet.urls import shown
from sealguard.ledger import audit

from .fleet_logs import acts, installed, origin_of, shipping

if TYPE_CHECKING:
    from .postgres import PgDatabase

Invoke = Callable[..., Result]


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_an_older_dump_restored_is_caught_up_by_the_hosts(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    url = installed(pg_database)
    ledger = acts(shipping(tmp_path / "rt", url), 3)
    late = acts(shipping(tmp_path / "late", url, host="h2"), 0)
    dump = tmp_path / "fleet.dump"
    _run("pg_dump", "-d", url, "-n", "sealguard", "-Fc", "-f", str(dump))
    acts(ledger, 2)  # accepted after the dump
    acts(late, 1)  # enrolled after the dump
    with pg_database.connect() as conn:
        conn.execute("DROP SCHEMA sealguard CASCADE")
    _run("pg_restore", "-d", url, str(dump))
    assert (
        invoke("fleet", "verify", "--url", url)
        .output.splitlines()[-1]
        .endswith(": 1 log(s), 1 intact, 0 not")
    )  # consistent, only older: the check alone cannot tell (README: keep its output)
    assert audit(ledger).intact and audit(late).intact  # behind is no problem on a host
    acts(ledger, 1)
    acts(late, 1)
    result = invoke("fleet", "verify", "--url", url)
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"ok {origin_of(ledger)} (calc on h1): 6 lines, 4 accepted checkpoints hold",
        f"ok {origin_of(late)} (calc on h2): 2 lines, 1 accepted checkpoints hold",
        f"{shown(pg_database.admin_url)}: 2 log(s), 2 intact, 0 not",
    ]
