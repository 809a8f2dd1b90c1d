"""Retiring a log (`sealguard fleet retire`): the way out for a host rebuilt or re-sealed on
purpose. Before, the database kept its old log under the host's name for ever: the re-sealed
host was refused at every act (never witnessed again) and `fleet status` exited 3 for ever.

Real CLI, real PostgreSQL: a host sealed and observed, its disk lost (the project wiped and
sealed again: a new log key, a new origin), the old log retired by the database's owner with a
reason; then the new log is enrolled under the same name and the fleet is clean, while the
retired log stays, and stays verifiable, and an old installation still running is refused."""

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from sealguard.ledger import Ledger
from sealguard.ledger.keys import load_key, origin_for, public_bytes
from sealguard.project import Project

from .fleet_db import fleet_url, governed, sg  # noqa: F401 (fixture)
from .postgres import PgDatabase

REASON = "disk of h1 replaced (INC-42); rebuilt and sealed again by the architects"


def _origin(root: Path) -> str:
    return origin_for(public_bytes(load_key(Ledger.in_folder(Project(root).runtime).key_file)))


def _wipe_and_seal(root: Path) -> None:
    shutil.rmtree(root / "governance" / "runtime")
    shutil.rmtree(root / "governance" / "baseline")
    (root / "governance" / "BASELINE_REF.sha256").unlink()
    done = sg("--project", str(root), "seal")
    assert done.exit_code == 0, done.output  # sealed here; the database refuses the new log


def _status(url: str) -> tuple[int, dict[str, object]]:
    done = sg("fleet", "status", "--url", url, "--json")
    return done.exit_code, json.loads(done.stdout)


def _retire(url: str, origin: str, reason: str = REASON):  # type: ignore[no-untyped-def]
    return sg("fleet", "retire", "--url", url, "--origin", origin, "--reason", reason)


@pytest.fixture
def rebuilt(tmp_path: Path, fleet_url: str) -> tuple[Path, Path, str]:  # noqa: F811
    """calc on h1 sealed and observed; a copy of it as it was (the old installation); then the
    project wiped and sealed again. (the rebuilt root, the old copy, the old origin)"""
    root = governed(tmp_path / "calc", fleet_url, "calc", "h1")
    assert sg("--project", str(root), "seal").exit_code == 0
    assert sg("--project", str(root), "observe").exit_code == 0
    old = tmp_path / "old-calc"
    shutil.copytree(root, old, symlinks=True)
    origin = _origin(root)
    _wipe_and_seal(root)
    return root, old, origin


def test_a_retired_log_frees_the_name_for_the_rebuilt_hosts_new_log(
    rebuilt: tuple[Path, Path, str],
    fleet_url: str,  # noqa: F811
) -> None:
    root, _, old_origin = rebuilt
    code, before = _status(fleet_url)
    assert code == 3 and before["incidents"] == 1  # the new log refused under the old's name
    done = _retire(fleet_url, old_origin)
    assert done.exit_code == 0, done.output
    assert f"log {old_origin} (calc on h1) is retired" in done.stdout
    observed = sg("--project", str(root), "observe")
    assert observed.exit_code == 0 and observed.stderr == "", observed.output
    assert sg("--project", str(root), "verify").exit_code == 0
    code, after = _status(fleet_url)
    assert code == 0 and after["incidents"] == 0, after
    rows = {row["origin"]: row for row in after["logs"]}  # type: ignore[attr-defined]
    assert set(rows) == {old_origin, _origin(root)}
    assert rows[old_origin]["retired"]["reason"] == REASON
    assert rows[old_origin]["retired"]["by"] and rows[old_origin]["incident"] is False
    assert rows[_origin(root)]["retired"] is None and rows[_origin(root)]["lines"] > 0
    table = sg("fleet", "status", "--url", fleet_url).stdout
    assert f"RETIRED calc on h1 (log {old_origin}) at " in table and REASON in table
    assert sg("fleet", "verify", "--url", fleet_url).exit_code == 0  # both logs, as kept


def test_an_old_installation_still_running_is_refused_and_told(
    rebuilt: tuple[Path, Path, str],
    fleet_url: str,  # noqa: F811
) -> None:
    """Its log is retired: the database takes nothing more of it, and its own checks say it is
    retired (an INCIDENT: that installation must not run)."""
    _, old, old_origin = rebuilt
    assert _retire(fleet_url, old_origin).exit_code == 0
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        held = conn.execute("SELECT size FROM sealguard.logs WHERE origin = %s", (old_origin,))
        (size,) = held.fetchone()  # type: ignore[misc]
    pushed = sg("--project", str(old), "fleet", "push")
    assert pushed.exit_code == 4 and "retired" in pushed.stderr, pushed.output
    verified = sg("--project", str(old), "verify")
    assert verified.exit_code == 3 and "retired" in verified.output, verified.output
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        held = conn.execute("SELECT size FROM sealguard.logs WHERE origin = %s", (old_origin,))
        assert held.fetchone() == (size,)


def test_retiring_is_the_owners_once_with_a_reason(
    rebuilt: tuple[Path, Path, str],
    fleet_url: str,  # noqa: F811
    pg_database: PgDatabase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, old_origin = rebuilt
    blank = _retire(fleet_url, old_origin, reason="  ")
    assert blank.exit_code == 64 and "--reason" in blank.stderr
    unknown = _retire(fleet_url, "sealguard.local/log/0000000000000000")
    assert unknown.exit_code == 4 and "keeps no log" in unknown.stderr
    observer = pg_database.login_role(member_of=["sealguard_observer"])
    monkeypatch.setenv("PGPASSWORD", observer.password)
    as_observer = _retire(observer.url, old_origin)
    assert as_observer.exit_code == 69 and "permission denied" in as_observer.stderr
    monkeypatch.delenv("PGPASSWORD")
    assert _retire(fleet_url, old_origin).exit_code == 0
    again = _retire(fleet_url, old_origin, reason="another reason")
    assert again.exit_code == 4 and "already retired" in again.stderr
    for line in (blank, unknown, as_observer, again):
        assert len(line.stderr.strip().splitlines()) == 1, line.stderr
    with psycopg.connect(fleet_url, autocommit=True) as conn:  # kept as it was, whoever asks
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "UPDATE sealguard.logs SET retired_reason = 'rewritten' WHERE origin = %s",
                (old_origin,),
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "UPDATE sealguard.logs SET retired = NULL WHERE origin = %s", (old_origin,)
            )


def test_a_reserved_name_is_awaited_again_from_its_retirement_not_its_reservation(
    rebuilt: tuple[Path, Path, str],
    fleet_url: str,  # noqa: F811
    pg_database: PgDatabase,
) -> None:
    """A name reserved long ago and freed by a retirement awaits its new log from the moment
    of the retirement: not SILENT at once because the reservation is old."""
    _, _, old_origin = rebuilt
    role = pg_database.login_role(member_of=["sealguard_observer"])
    reserved = sg("fleet", "reserve", "--url", fleet_url, "--project-name", "calc", "--host",
                  "h1", "--role", role.name)  # fmt: skip
    assert reserved.exit_code == 4  # the old log keeps the name until it is retired
    assert _retire(fleet_url, old_origin).exit_code == 0
    again = sg("fleet", "reserve", "--url", fleet_url, "--project-name", "calc", "--host", "h1",
               "--role", role.name)  # fmt: skip
    assert again.exit_code == 0, again.output
    with psycopg.connect(fleet_url, autocommit=True) as conn:  # reserved two days ago
        conn.execute("UPDATE sealguard.reservations SET reserved = now() - interval '2 days'")
    table = sg("fleet", "status", "--url", fleet_url).stdout
    assert "awaiting calc on h1: reserved for the role" in table, table
    assert "SILENT calc on h1" not in table
