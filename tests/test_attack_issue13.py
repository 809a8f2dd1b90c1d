"""Issue 13, attacked from outside: the fleet ledger against another host's observer role and a
careless operator.

Each test is one finding, marked xfail(strict) until it is fixed: the scenario is done for real
(a sealed project, a real PostgreSQL, an observer's LOGIN role over TCP with its password), and
the assertion is what a safety-critical tool must do.
"""

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.fleet.urls import url_problem
from sealguard.ledger import Ledger
from sealguard.ledger.keys import load_key, origin_for, public_bytes
from sealguard.ledger.merkle import CompactRange, leaf_hash
from sealguard.ledger.note import sign, verifier_key
from sealguard.project import Project

from .conftest import write_tree
from .fleet_db import fleet_url  # noqa: F401 (fixture)
from .ledger_helpers import TEXT_PROBE, lines_of, resign
from .postgres import PgDatabase

pytestmark = pytest.mark.usefixtures("pg_server")


@pytest.fixture
def fleet(fleet_url: str) -> str:  # noqa: F811
    """A fresh database with the fleet ledger's schema; the superuser's URL (the hosts' own)."""
    return fleet_url


@pytest.fixture
def mallory(pg_database: PgDatabase, fleet: str) -> Iterator[psycopg.Connection[Any]]:
    """Another host's observer: a LOGIN role IN ROLE sealguard_observer, over TCP, password."""
    role = pg_database.login_role(member_of=["sealguard_observer"])
    conn = psycopg.connect(role.url, password=role.password, autocommit=True)
    yield conn
    conn.close()


def _project(base: Path, url: str, name: str = "project", host: str = "h1") -> Project:
    config = TEXT_PROBE + f'\n[ledger]\nurl = "{url}"\nhost = "{host}"\n'
    root = base / name
    write_tree(
        root,
        {
            "src/app.py": "print('hello')\n",
            "data/value.txt": "1\n",
            "governance/sealguard.toml": config,
        },
    )
    return Project(root)


def _run(invoke: Any, project: Project, *args: str) -> Result:
    return invoke("--project", str(project.root), *args)  # type: ignore[no-any-return]


def _sealed_and_observed(tmp_path: Path, invoke: Any, url: str, **kw: str) -> Project:
    project = _project(tmp_path, url, **kw)
    assert _run(invoke, project, "seal").exit_code == 0
    assert _run(invoke, project, "observe").exit_code == 0
    return project


def _ledger(project: Project) -> Ledger:
    return Ledger.in_folder(project.runtime)


def _origin(project: Project) -> str:
    return origin_for(public_bytes(load_key(_ledger(project).key_file)))


def _rows(url: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _note(origin: str, size: int, root: bytes) -> str:
    """A checkpoint's text, as append parses it, signed by nobody."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n\n— nobody AAAA\n"


def _frontier(conn: psycopg.Connection[Any], origin: str) -> tuple[int, list[bytes]]:
    row = conn.execute(
        "SELECT size, frontier FROM sealguard.logs WHERE origin = %s", (origin,)
    ).fetchone()
    assert row is not None
    size, frontier = row
    return size, [bytes(h) for h in frontier]


APPEND = "SELECT status, reason, size FROM sealguard.append(%s, %s, %s::bytea[], %s)"


def _append(conn: psycopg.Connection[Any], *params: object) -> tuple[Any, ...]:
    """sealguard.append(origin, first, lines, note)'s answer: (status, reason, size)."""
    row = conn.execute(APPEND, params).fetchone()
    assert row is not None
    return tuple(row)


# --- another host's observer role ------------------------------------------------------------


def test_an_observer_cannot_append_to_another_hosts_log(
    tmp_path: Path, invoke: Any, fleet: str, mallory: psycopg.Connection[Any]
) -> None:
    victim = _sealed_and_observed(tmp_path, invoke, fleet)
    origin = _origin(victim)
    size, frontier = _frontier(mallory, origin)
    tree = CompactRange(size, frontier)
    tree.push(leaf_hash(b'{"forged":true}'))
    answer = _append(
        mallory, origin, size, [b'{"forged":true}'], _note(origin, size + 1, tree.root())
    )
    held = _rows(fleet, "SELECT size FROM sealguard.logs WHERE origin = %s", origin)
    verified = _run(invoke, victim, "verify")
    assert answer[0] != 200 and held == [(len(lines_of(_ledger(victim))),)]
    assert verified.exit_code == 0, verified.output


def test_a_checkpoint_not_signed_by_the_log_key_is_found_by_fleet_verify(
    fleet: str, mallory: psycopg.Connection[Any], invoke: Any
) -> None:
    """The database has no Ed25519: it checks a checkpoint's root against the lines it holds,
    never its signature (its own log's role may store a checkpoint signed by nobody). What
    checks signatures is `fleet verify`, the one command that verifies everything."""
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    origin = origin_for(key.public_key().public_bytes_raw())
    log_key = verifier_key(origin, key.public_key().public_bytes_raw())
    mallory.execute("SELECT * FROM sealguard.enrol(%s, %s, 'p', 'h', NULL)", (origin, log_key))
    tree = CompactRange()
    tree.push(leaf_hash(b"line"))
    forged = sign(origin, 1, tree.root(), origin, other).note()  # signed by another key
    assert _append(mallory, origin, 0, [b"line"], forged)[0] == 200
    verified = invoke("fleet", "verify", "--url", fleet)
    assert verified.exit_code == 3, verified.output
    assert origin in verified.output
    detail = invoke("log", "verify", "--url", fleet, "--origin", origin)
    assert detail.exit_code == 3 and "signed" in detail.output, detail.output


def test_a_null_first_seq_cannot_make_a_checkpoint_for_lines_not_held(
    fleet: str, mallory: psycopg.Connection[Any]
) -> None:
    mallory.execute("SELECT * FROM sealguard.enrol('o', 'k', 'p', 'h', NULL)")
    tree = CompactRange()
    tree.push(leaf_hash(b"line"))
    answer = _append(mallory, "o", None, [b"line"], _note("o", 1_000_000, tree.root()))
    checkpoints = _rows(fleet, "SELECT size FROM sealguard.checkpoints WHERE origin = 'o'")
    held = _rows(fleet, "SELECT size FROM sealguard.logs WHERE origin = 'o'")
    assert answer[0] != 200, answer
    assert all(size <= held[0][0] for (size,) in checkpoints), (checkpoints, held)


def test_an_observer_cannot_enrol_on_behalf_of_another_host(
    tmp_path: Path, invoke: Any, fleet: str, mallory: psycopg.Connection[Any]
) -> None:
    squatter = origin_for(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    mallory.execute(
        "SELECT * FROM sealguard.enrol(%s, 'k', 'project', 'h1', NULL)", (squatter,)
    ).fetchone()
    victim = _project(tmp_path, fleet)
    sealed = _run(invoke, victim, "seal")
    assert "re-sealed or re-keyed" not in sealed.stderr, sealed.stderr
    verified = _run(invoke, victim, "verify")
    assert verified.exit_code == 0, verified.output


def test_an_observer_cannot_rewrite_another_hosts_head(
    tmp_path: Path, invoke: Any, fleet: str, mallory: psycopg.Connection[Any]
) -> None:
    victim = _sealed_and_observed(tmp_path, invoke, fleet)
    (victim.root / "data/value.txt").write_text("2\n")
    _run(invoke, victim, "observe")  # a product drift: the host's head says so
    origin = _origin(victim)
    before = _rows(fleet, "SELECT summary FROM sealguard.heads WHERE origin = %s", origin)
    size = _rows(fleet, "SELECT size FROM sealguard.logs WHERE origin = %s", origin)[0][0]
    forged = json.dumps({"format": 1, "state": "STABLE", "escalations": []})
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="kept for the role"):
        mallory.execute("SELECT sealguard.report_head(%s, %s, %s::jsonb)", (origin, size, forged))
    after = _rows(fleet, "SELECT summary FROM sealguard.heads WHERE origin = %s", origin)
    assert after == before, after


def test_one_more_line_does_not_erase_a_refusal_from_fleet_status(
    tmp_path: Path, invoke: Any, fleet: str, mallory: psycopg.Connection[Any]
) -> None:
    victim = _sealed_and_observed(tmp_path, invoke, fleet)
    ledger = _ledger(victim)
    lines = lines_of(ledger)
    event = json.loads(lines[1])
    event["ts"] = "2000-01-01T00:00:00Z"
    lines[1] = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
    resign(ledger, lines)  # the history rewritten with the stolen key
    _run(invoke, victim, "observe")  # refused by the database: an INCIDENT
    status = invoke("fleet", "status", "--url", fleet)
    assert status.exit_code == 3, status.output  # the database saw it
    origin = _origin(victim)
    size, _ = _frontier(mallory, origin)
    assert _append(mallory, origin, size, [b'{"cover":true}'], None)[0] == 403
    status = invoke("fleet", "status", "--url", fleet)
    assert status.exit_code == 3, status.output


# --- a careless operator ---------------------------------------------------------------------


def test_a_percent_encoded_password_parameter_is_refused() -> None:
    assert url_problem("postgresql://u@db.example/x?pass%77ord=secret") is not None


def test_a_port_that_is_not_a_number_is_a_usage_error() -> None:
    assert url_problem("postgresql://u@db.example:notaport/x") is not None


def test_a_database_that_refuses_the_hosts_password_is_not_cut_off(
    tmp_path: Path, invoke: Any, pg_database: PgDatabase, fleet: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    role = pg_database.login_role(member_of=["sealguard_observer"])
    monkeypatch.setenv("PGPASSWORD", role.password + "-typo")
    project = _project(tmp_path, role.url)
    sealed = _run(invoke, project, "seal")
    assert sealed.exit_code == 0 and "password authentication failed" in sealed.stderr
    verified = _run(invoke, project, "verify")
    # not an INCIDENT of the product (a healthy build is not halted for a typo), but never
    # silent: the check says it could not hold the log against its witness, and why
    assert verified.exit_code == 0, verified.output
    assert "not held against the fleet database" in verified.stderr
    assert "password authentication failed" in verified.stderr
