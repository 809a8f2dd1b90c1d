"""Today's fleet changes, attacked from outside: the observation's one database session
(fleet/sessions.py `session`/`over`), heads shape-checked for `fleet status` and `fleet report`
(fleet/heads.py), and names reserved for their hosts' login roles (`fleet reserve`,
fleet/sql/003_reservations.sql).

Each xfail(strict) test is one finding, done for real (a real PostgreSQL, observer LOGIN roles
over TCP with their passwords, the real CLI) and asserting what the tool must do; a plain test
guards an attack that held.
"""

import base64
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.fleet import database
from sealguard.ledger import Ledger
from sealguard.ledger.keys import load_key, origin_for, public_bytes
from sealguard.ledger.merkle import CompactRange, leaf_hash
from sealguard.project import Project

from .fleet_db import enrol_as, fleet_url, governed, sg  # noqa: F401 (fixture)
from .postgres import PgDatabase, PgRole

pytestmark = pytest.mark.usefixtures("pg_server")


def _observer(pg_database: PgDatabase) -> PgRole:
    return pg_database.login_role(member_of=["sealguard_observer"])


def _new_origin() -> str:
    return origin_for(Ed25519PrivateKey.generate().public_key().public_bytes_raw())


_enrol = enrol_as


def _poisoned_head(role: PgRole, summary: str) -> str:
    """As an observer role: enrol a log of its own (any name not reserved) and report `summary`
    (JSON text) as its head, as report_head lets the log's own role do; its origin."""
    origin = _new_origin()
    assert _enrol(role, origin, "evil", "h9")[0] == 201
    with role.connect() as conn:
        conn.execute("SELECT sealguard.report_head(%s, 0, %s::jsonb)", (origin, summary))
    return origin


@pytest.fixture
def shipped(tmp_path: Path, fleet_url: str) -> Path:  # noqa: F811
    """calc on h1, sealed and observed once: a healthy row of the fleet."""
    root = governed(tmp_path / "calc", fleet_url, "calc", "h1")
    assert sg("--project", str(root), "seal").exit_code == 0
    done = sg("--project", str(root), "observe")
    assert done.exit_code == 0, done.output
    return root


HEAD = '{"format": 1, "state": "OBSERVING", '


# -- heads: one host's role still takes `fleet status` down for the whole fleet --------------

POISONS = {
    # a schedule of a positive length (it passes the shape check), too long for a datetime
    "schedule_every_1e12_seconds": HEAD + '"schedule": {"every_seconds": 1e12}}',
    # a deadline that is a valid ISO time, but not one UTC can hold
    "deadline_past_year_9999_in_utc": HEAD
    + '"escalations": [{"escalation_id": "ESC_1", "event_id": "RTE_1", "classification": '
    '"INCIDENT", "deadline_at": "9999-12-31T23:59:59-05:00"}]}',
    # an unknown key (ignored by the shape check) nested deeper than json.loads recurses
    "unknown_key_nested_3000_deep": HEAD + '"x": ' + "[" * 3000 + "]" * 3000 + "}",
    # an unknown key holding an integer longer than Python converts from text (4,300 digits)
    "unknown_key_5000_digit_integer": HEAD + '"x": 1' + "0" * 5000 + "}",
}


# Read as heads: an unknown key is dropped unread, and a deadline UTC cannot hold is no
# deadline (never overdue); the others are unreadable on their row.
UNREAD_BUT_HARMLESS = {POISONS["unknown_key_5000_digit_integer"],
                       POISONS["deadline_past_year_9999_in_utc"]}  # fmt: skip


@pytest.mark.parametrize("poison", list(POISONS.values()), ids=list(POISONS))
def test_a_poisoned_head_is_unreadable_on_its_row_not_a_crash_of_fleet_status(
    pg_database: PgDatabase,
    shipped: Path,
    fleet_url: str,  # noqa: F811
    tmp_path: Path,
    poison: str,
) -> None:
    """Symptom: any observer role enrols a log of its own and reports one of these heads;
    then `fleet status`, `fleet status --json` and `fleet report` fail for every project x
    host (exit 70: OverflowError from timedelta/astimezone in status.py `_silence`/`_parsed`,
    RecursionError or ValueError from json.loads while psycopg reads the jsonb), where
    today's change promises HEAD UNREADABLE on that one row and the others shown."""
    origin = _poisoned_head(_observer(pg_database), poison)
    unreadable = poison not in UNREAD_BUT_HARMLESS
    table = sg("fleet", "status", "--url", fleet_url)
    assert table.exit_code == 0, table.output
    assert "calc" in table.stdout and "OBSERVING" in table.stdout
    said = f"HEAD evil on h9 (log {origin}): its head cannot be read ("
    assert (said in table.stdout) == unreadable, table.stdout
    as_json = sg("fleet", "status", "--url", fleet_url, "--json")
    assert as_json.exit_code == 0, as_json.output
    rows = {r["project"]: r for r in json.loads(as_json.stdout)["logs"]}
    assert rows["calc"]["state"] == "OBSERVING"
    assert bool(rows["evil"]["head_problem"]) == unreadable
    page = sg("fleet", "report", "-o", str(tmp_path / "fleet.html"), "--url", fleet_url)
    assert page.exit_code == 0, page.output


# -- reservations ------------------------------------------------------------------------------


def _reserve(url: str, role: PgRole, project: str = "calc", host: str = "h1") -> Any:
    return sg("fleet", "reserve", "--url", url, "--project-name", project, "--host", host,
              "--role", role.name)  # fmt: skip


def _origin_of(root: Path) -> str:
    return origin_for(public_bytes(load_key(Ledger.in_folder(Project(root).runtime).key_file)))


def _held_lines(url: str, origin: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT count(*) FROM sealguard.entries WHERE origin = %s", (origin,)
        ).fetchone()
    assert found is not None
    return int(found[0])


def _append(role: PgRole, origin: str, lines: list[bytes]) -> int:
    """As `role`: append `lines` to its own log `origin` with a checkpoint whose root is theirs
    (the database checks roots, not signatures); the status it answers."""
    tree = CompactRange(0, [])
    for line in lines:
        tree.push(leaf_hash(line))
    note = f"{origin}\n{len(lines)}\n{base64.b64encode(tree.root()).decode()}\n"
    with role.connect() as conn:
        found = conn.execute(
            "SELECT status FROM sealguard.append(%s, 0, %s, %s)", (origin, lines, note)
        ).fetchone()
    assert found is not None
    return int(found[0])


@pytest.mark.parametrize("garbage", [False, True], ids=["enrolled", "enrolled_and_filled"])
def test_a_hosts_origin_enrolled_by_another_role_is_said_and_is_no_incident_of_its_own(
    tmp_path: Path,
    pg_database: PgDatabase,
    fleet_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    garbage: bool,
) -> None:
    """Found: another observer role enrols the host's origin (public: it is in every bundle and
    checkpoint) under a name of its own before the host's first shipment. The database cannot
    tell who holds the log key (it has no Ed25519), so it cannot give the origin back; before,
    with lines of its own appended there, the real host's checks read that log as its own and
    said FORK, an INCIDENT (HALTED) made by someone else. Now: the real host says, in one line
    per act, that another role keeps its origin, and is not halted; its name, reserved, shows
    as awaiting in `fleet status` (SILENT once late), so the lock-out is seen, not prevented."""
    host, mallory = _observer(pg_database), _observer(pg_database)
    assert _reserve(fleet_url, host).exit_code == 0
    root = governed(tmp_path / "calc", host.url, "calc", "h1")
    monkeypatch.delenv("PGPASSWORD", raising=False)  # not set yet: the seal is not shipped
    assert sg("--project", str(root), "seal").exit_code == 0
    origin = _origin_of(root)
    assert _enrol(mallory, origin, "decoy", "h9")[0] == 201
    if garbage:
        assert _append(mallory, origin, [b'{"seq":0,"type":"forged"}']) == 200
    monkeypatch.setenv("PGPASSWORD", host.password)
    database._UNREACHABLE.clear()  # each command is a process of its own
    observed = sg("--project", str(root), "observe")
    assert observed.exit_code == 0, observed.output  # STABLE: no INCIDENT of its own
    said = [line for line in observed.stderr.splitlines() if "another role enrolled" in line]
    assert len(said) == 1 and mallory.name in said[0], observed.stderr
    verified = sg("--project", str(root), "verify")
    assert verified.exit_code == 0, verified.output
    status = sg("fleet", "status", "--url", fleet_url)
    assert "awaiting calc on h1: reserved for the role" in status.stdout, status.stdout


def test_an_upgrade_run_by_a_superuser_keeps_new_hosts_enrolling(
    tmp_path: Path,
    pg_database: PgDatabase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Symptom: the schema was made by a non-superuser owner (README: `fleet init` "as a role
    that may create schemas and roles"), and the upgrade to 003 is run by the server's superuser
    (README: "run it again after an upgrade"). sealguard.reservations then belongs to the
    superuser; the trigger runs with enrol's rights (the owner's), which may not read it: every
    new host's first shipment is refused ('permission denied for table reservations', shown as
    if its name were reserved for another role), and the owner's `fleet reserve` exits 69."""
    owner = pg_database.login_role((), "CREATEROLE")
    with pg_database.connect() as conn:
        conn.execute(f'GRANT CREATE ON DATABASE "{pg_database.name}" TO "{owner.name}"')
    monkeypatch.setenv("PGPASSWORD", owner.password)
    made = sg("fleet", "init", "--url", owner.url)
    assert made.exit_code == 0, made.output
    with owner.connect() as conn:  # as the database was before 003: no reservations yet
        conn.execute("DROP TRIGGER logs_reserved ON sealguard.logs")
        conn.execute("DROP FUNCTION sealguard.reserved_enrolment()")
        conn.execute("DROP TABLE sealguard.reservations")
        conn.execute("ALTER TABLE sealguard.heads DROP CONSTRAINT heads_bounded")
        conn.execute("DELETE FROM sealguard.schema_versions WHERE version = 3")
    upgraded = sg("fleet", "init", "--url", pg_database.admin_url)  # the superuser upgrades
    assert upgraded.exit_code == 0, upgraded.output
    host = _observer(pg_database)
    reserved = _reserve(owner.url, host, host="h1")  # as the schema's owner, as README says
    root = governed(tmp_path / "calc", host.url, "calc", "h2")
    monkeypatch.setenv("PGPASSWORD", host.password)
    sealed = sg("--project", str(root), "seal")
    assert sealed.exit_code == 0 and "refused" not in sealed.stderr, sealed.stderr
    assert _held_lines(pg_database.admin_url, _origin_of(root)) > 0
    assert reserved.exit_code == 0, reserved.output


ESCAPES = {
    "state": HEAD.replace('"OBSERVING"', '"OBSERVING\\u001b[2J\\u001b]0;pwned\\u0007"') + '"x": 1}',
    "reason": HEAD + '"reason": "\\u001b[31mall clear\\u001b[0m\\r\\u001b[2K", "x": 1}',
    "problem_path": HEAD
    + '"escalations": [{"escalation_id": "E", "event_id": "R", "classification": "INCIDENT", '
    '"channels": {"\\u001b]0;pwned\\u0007": 5}}]}',
    "problem_value": HEAD + '"since": {"\\u001b[2J": "\\u001b[2J"}}',
}


@pytest.mark.parametrize("head", list(ESCAPES.values()), ids=list(ESCAPES))
def test_terminal_escapes_in_a_head_never_reach_the_terminal(
    pg_database: PgDatabase,
    fleet_url: str,  # noqa: F811
    head: str,
) -> None:
    """Held: a head's strings (its state, or the path and value msgspec names in its problem)
    are shown with their control characters escaped, in the table and in its flag lines."""
    _poisoned_head(_observer(pg_database), head)
    table = sg("fleet", "status", "--url", fleet_url)
    assert table.exit_code == 0, table.output
    assert "\x1b" not in table.output and "\x07" not in table.output and "\r" not in table.output
    assert "evil" in table.stdout


def test_a_head_larger_than_the_views_read_is_refused_by_the_database(
    pg_database: PgDatabase,
    fleet_url: str,  # noqa: F811
) -> None:
    """A host's role could store heads of any size (the attacker's note): the database now
    refuses one over 1 MB, the most `fleet status` reads of one (fleet/heads.py MAX_BYTES)."""
    role = _observer(pg_database)
    origin = _poisoned_head(role, HEAD + '"x": "' + "a" * 1000 + '"}')  # a usual one: kept
    with role.connect() as conn, pytest.raises(psycopg.errors.CheckViolation, match="bounded"):
        conn.execute(
            "SELECT sealguard.report_head(%s, 0, %s::jsonb)",
            (origin, HEAD + '"x": "' + "a" * (1 << 20) + '"}'),
        )
