"""Host names reserved for their hosts' login roles before the first shipment (`sealguard fleet
reserve`, fleet/sql/003_reservations.sql): another observer's role can no longer take a
project x host first and leave the real host unwitnessed (trust on first use, issue 13)."""

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.ledger.keys import origin_for

from .fleet_db import enrol_as, fleet_url, governed, sg  # noqa: F401 (fixture)
from .postgres import PgDatabase, PgRole


@pytest.fixture
def roles(pg_database: PgDatabase, fleet_url: str) -> dict[str, PgRole]:  # noqa: F811
    """The real host's observer role, and another host's (mallory)."""
    return {
        name: pg_database.login_role(member_of=["sealguard_observer"])
        for name in ("host", "mallory")
    }


def _squat(role: PgRole, project: str = "calc", host: str = "h1") -> tuple[int, str]:
    """Enrol a log of its own under `project` on `host`, as `role` would to squat the name:
    enrol's answer, or 403 and the message of the database's refusal."""
    origin = origin_for(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    return enrol_as(role, origin, project, host)


def _reserve(url: str, role: PgRole | str, project: str = "calc", host: str = "h1") -> Any:
    name = role if isinstance(role, str) else role.name
    return sg("fleet", "reserve", "--url", url, "--project-name", project, "--host", host,
              "--role", name)  # fmt: skip


def test_a_reserved_name_cannot_be_taken_by_another_role(
    tmp_path: Path,
    fleet_url: str,  # noqa: F811
    roles: dict[str, PgRole],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    done = _reserve(fleet_url, roles["host"])
    assert done.exit_code == 0, done.output
    assert f"calc on h1 is reserved for the role {roles['host'].name}" in done.stdout
    status, reason = _squat(roles["mallory"])
    assert status == 403 and "reserves calc on h1 for the role" in reason, reason
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM sealguard.logs").fetchone() == (0,)
    # the real host, with its own role's URL and password, enrols and is witnessed
    root = governed(tmp_path / "calc", roles["host"].url, "calc", "h1")
    monkeypatch.setenv("PGPASSWORD", roles["host"].password)
    assert sg("--project", str(root), "seal").exit_code == 0
    observed = sg("--project", str(root), "observe")
    assert observed.exit_code == 0 and observed.stderr == "", observed.output
    verified = sg("--project", str(root), "verify")
    assert verified.exit_code == 0 and verified.stderr == "", verified.output


def test_an_unreserved_name_is_still_first_come(
    fleet_url: str,  # noqa: F811
    roles: dict[str, PgRole],
) -> None:
    assert _squat(roles["mallory"], host="h2")[0] == 201


def test_a_name_another_role_enrolled_is_not_reserved_for_someone_else(
    fleet_url: str,  # noqa: F811
    roles: dict[str, PgRole],
) -> None:
    assert _squat(roles["mallory"])[0] == 201
    done = _reserve(fleet_url, roles["host"])
    assert done.exit_code == 4, done.output
    assert f"for the role {roles['mallory'].name}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert _reserve(fleet_url, roles["mallory"]).exit_code == 0  # its own: recorded


def test_a_reservation_moves_to_another_role_while_nothing_is_enrolled(
    fleet_url: str,  # noqa: F811
    roles: dict[str, PgRole],
) -> None:
    assert _reserve(fleet_url, roles["mallory"]).exit_code == 0
    moved = _reserve(fleet_url, roles["host"])
    assert moved.exit_code == 0 and f"(it was {roles['mallory'].name}'s)" in moved.stdout
    assert _squat(roles["mallory"])[0] == 403
    assert _squat(roles["host"])[0] == 201
    again = _reserve(fleet_url, roles["host"])  # the same again: nothing changes
    assert again.exit_code == 0 and "(it was" not in again.stdout


def test_reserving_for_a_role_that_does_not_exist_or_as_an_observer_is_refused(
    fleet_url: str,  # noqa: F811
    roles: dict[str, PgRole],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = _reserve(fleet_url, "nobody_here")
    assert missing.exit_code == 64 and "no login role nobody_here" in missing.stderr
    monkeypatch.setenv("PGPASSWORD", roles["mallory"].password)
    as_observer = _reserve(roles["mallory"].url, roles["mallory"])
    assert as_observer.exit_code == 69 and "permission denied" in as_observer.stderr
    assert len(as_observer.stderr.strip().splitlines()) == 1


def test_a_host_whose_name_is_reserved_for_another_role_is_told_and_keeps_its_lines(
    tmp_path: Path,
    fleet_url: str,  # noqa: F811
    roles: dict[str, PgRole],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A host set up with the wrong role (or another host's name): its acts say why in one
    line and keep every line; `fleet push` is refused (4), not "unreachable" (69)."""
    assert _reserve(fleet_url, roles["mallory"]).exit_code == 0
    root = governed(tmp_path / "calc", roles["host"].url, "calc", "h1")
    monkeypatch.setenv("PGPASSWORD", roles["host"].password)
    assert sg("--project", str(root), "seal").exit_code == 0
    observed = sg("--project", str(root), "observe")
    assert observed.exit_code == 0, observed.output
    warned = [line for line in observed.stderr.splitlines() if "reserves calc on h1" in line]
    assert len(warned) == 1 and "the next act ships what is owed" in warned[0], observed.stderr
    pushed = sg("--project", str(root), "fleet", "push")
    assert pushed.exit_code == 4 and "reserves calc on h1 for the role" in pushed.stderr
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM sealguard.logs").fetchone() == (0,)


def test_a_reserved_host_that_never_shipped_is_silent_in_fleet_status(
    tmp_path: Path,
    fleet_url: str,  # noqa: F811
    roles: dict[str, PgRole],
) -> None:
    """Reservations say which hosts the fleet expects: one with no log yet is shown, and is
    SILENT once --silent-after has passed since it was reserved (before: invisible)."""
    assert _reserve(fleet_url, roles["host"], host="h9").exit_code == 0
    assert _squat(roles["mallory"], host="h2")[0] == 201  # one log, to show beside it
    fresh = sg("fleet", "status", "--url", fleet_url)
    assert fresh.exit_code == 0, fresh.output
    assert "calc on h9: reserved for the role" in fresh.stdout and "no log yet" in fresh.stdout
    assert "SILENT calc on h9" not in fresh.stdout
    with psycopg.connect(fleet_url, autocommit=True) as conn:  # reserved two days ago
        conn.execute("UPDATE sealguard.reservations SET reserved = now() - interval '2 days'")
    late = sg("fleet", "status", "--url", fleet_url)
    assert late.exit_code == 0, late.output  # shown, not an exit status (as any silence)
    assert "SILENT calc on h9: reserved for the role" in late.stdout
    assert "1 silent" in late.stdout.splitlines()[-1]
    data = json.loads(sg("fleet", "status", "--url", fleet_url, "--json").stdout)
    (unreported,) = data["unreported"]
    assert unreported["host"] == "h9" and unreported["role"] == roles["host"].name
    assert unreported["silent"]["seconds"] >= 2 * 86400 - 60 and data["silent"] == 1
    target = tmp_path / "fleet.html"
    assert sg("fleet", "report", "-o", str(target), "--url", fleet_url).exit_code == 0
    assert "SILENT calc on h9" in target.read_text()


def test_a_role_that_is_not_an_observer_is_not_reserved_for(
    fleet_url: str,  # noqa: F811
    pg_database: PgDatabase,
) -> None:
    """A typo'd or auditor's role would lock the host out: refused (64) before anything."""
    auditor = pg_database.login_role(member_of=["sealguard_auditor"])
    done = _reserve(fleet_url, auditor)
    assert done.exit_code == 64 and "not a member of sealguard_observer" in done.stderr
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM sealguard.reservations").fetchone() == (0,)
