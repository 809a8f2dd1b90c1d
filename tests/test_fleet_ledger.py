"""The fleet ledger in a real PostgreSQL: shipping, the database's own checks, and the host's log
held against what the database accepted.

Each attack is done for real on a sealed project with a fast probe (`cat data/value.txt`): the
attacker may write anything in the project, its log key included, never the database.
"""

import json
import shutil
import threading
from pathlib import Path

import psycopg
import pytest
from click.testing import Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.fleet import database
from sealguard.fleet.shipping import read_cursor
from sealguard.ledger import Ledger, append
from sealguard.ledger.keys import load_key, origin_for, public_bytes
from sealguard.ledger.merkle import CompactRange, leaf_hash
from sealguard.ledger.note import sign
from sealguard.project import Project

from .conftest import write_tree
from .fleet_db import fleet_url  # noqa: F401 (fixture)
from .ledger_helpers import (
    TEXT_PROBE,
    audit_both_ways,
    lines_of,
    resign,
    restore,
    runtime_files,
)

pytestmark = pytest.mark.usefixtures("pg_server")


@pytest.fixture(autouse=True)
def _fast_and_full_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    audit_both_ways(monkeypatch)


@pytest.fixture
def fleet(fleet_url: str) -> str:  # noqa: F811
    """A fresh database with the fleet ledger's schema; its URL (a superuser's, by peer auth)."""
    return fleet_url


def _config(url: str, host: str = "h1", extra: str = "") -> str:
    return TEXT_PROBE + f'\n[ledger]\nurl = "{url}"\nhost = "{host}"\n{extra}'


def _project(base: Path, url: str, name: str = "project", host: str = "h1") -> Project:
    root = base / name
    write_tree(
        root,
        {
            "src/app.py": "print('hello')\n",
            "data/value.txt": "1\n",
            "governance/sealguard.toml": _config(url, host),
        },
    )
    return Project(root)


def _run(invoke, project: Project, *args: str) -> Result:  # type: ignore[no-untyped-def]
    return invoke("--project", str(project.root), *args)  # type: ignore[no-any-return]


def _rows(url: str, query: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _ledger(project: Project) -> Ledger:
    return Ledger.in_folder(project.runtime)


def _sealed(tmp_path: Path, invoke, url: str, **kw: str) -> Project:  # type: ignore[no-untyped-def]
    project = _project(tmp_path, url, **kw)
    assert _run(invoke, project, "seal").exit_code == 0
    return project


def _held_lines(url: str, origin: str) -> list[bytes]:
    rows = _rows(url, "SELECT line FROM sealguard.entries WHERE origin = %s ORDER BY seq", origin)
    return [bytes(r[0]) for r in rows]


def _origin(project: Project) -> str:
    return origin_for(public_bytes(load_key(_ledger(project).key_file)))


# --- the schema ------------------------------------------------------------------------------


def test_install_applies_each_file_once(pg_admin_url: str) -> None:
    with database.connect(pg_admin_url) as conn:
        applied = database.install(conn)
        assert applied[0] == "001_ledger.sql" and len(applied) == len(database.expected_versions())
        conn.commit()
    with database.connect(pg_admin_url) as conn:
        assert database.install(conn) == []
        assert database.installed_versions(conn) == database.expected_versions()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE sealguard.entries SET line = 'x'",
        "DELETE FROM sealguard.entries",
        "TRUNCATE sealguard.entries CASCADE",
        "UPDATE sealguard.checkpoints SET root = '\\x00'",
        "DELETE FROM sealguard.refusals",
        "DELETE FROM sealguard.logs",
        "UPDATE sealguard.logs SET size = 0",
    ],
)
def test_the_owner_itself_cannot_rewrite_the_ledger(
    tmp_path: Path, invoke, fleet: str, statement: str
) -> None:
    project = _sealed(tmp_path, invoke, fleet)
    assert _run(invoke, project, "observe").exit_code == 0
    with psycopg.connect(fleet, autocommit=True) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute(statement)
    assert "refused" in str(caught.value)
    assert len(_held_lines(fleet, _origin(project))) == len(lines_of(_ledger(project)))


def test_the_databases_merkle_tree_is_rfc6962s(fleet: str) -> None:
    """Every size from 0 to 70: the root PL/pgSQL computes is the one sealguard computes."""
    tree = CompactRange()
    with psycopg.connect(fleet, autocommit=True) as conn:
        conn.execute("SELECT * FROM sealguard.enrol('o', 'k', 'p', 'h', NULL)").fetchone()
        for n in range(71):
            frontier = conn.execute(
                "SELECT frontier FROM sealguard.logs WHERE origin = 'o'"
            ).fetchone()[0]
            root = conn.execute("SELECT sealguard.frontier_root(%s)", (frontier,)).fetchone()[0]
            assert bytes(root) == tree.root(), n
            line = f"line {n}".encode()
            tree.push(leaf_hash(line))
            status, reason, size = conn.execute(
                "SELECT * FROM sealguard.append('o', %s, %s::bytea[], NULL)", (n, [line])
            ).fetchone()
            assert (status, size) == (200, n + 1), reason


def _note(size: int, root: bytes, origin: str = "o") -> str:
    import base64

    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n\n— o AAAA\n"


def test_the_database_refuses_gaps_rewrites_and_false_roots_and_keeps_each_refusal(
    fleet: str,
) -> None:
    lines = [b"a", b"b", b"c"]
    tree = CompactRange()
    for line in lines:
        tree.push(leaf_hash(line))
    with psycopg.connect(fleet, autocommit=True) as conn:
        call = "SELECT * FROM sealguard.append('o', %s, %s::bytea[], %s)"
        conn.execute("SELECT * FROM sealguard.enrol('o', 'k', 'p', 'h', NULL)")
        assert conn.execute(call, (0, lines[:2], None)).fetchone()[0] == 200
        gap = conn.execute(call, (3, [b"d"], None)).fetchone()
        assert gap[0] == 409 and gap[2] == 2
        rewrite = conn.execute(call, (1, [b"B", b"c"], None)).fetchone()
        assert rewrite[0] == 409 and "line 2 is not the line the database holds" in rewrite[1]
        false_root = conn.execute(call, (2, [b"c"], _note(3, b"\x01" * 32))).fetchone()
        assert false_root[0] == 422
        assert conn.execute("SELECT size FROM sealguard.logs").fetchone()[0] == 2  # undone
        good = conn.execute(call, (1, [b"b", b"c"], _note(3, tree.root()))).fetchone()
        assert good == (200, "accepted", 3)
        refused = conn.execute("SELECT status, after FROM sealguard.refusals ORDER BY id")
        assert refused.fetchall() == [(409, 2), (422, 2)]
        assert conn.execute("SELECT count(*) FROM sealguard.checkpoints").fetchone()[0] == 1


def test_two_writers_of_one_log_never_interleave_or_double_a_line(fleet: str) -> None:
    """The same 200 lines sent at once from 4 connections, each in its own chunks: the database
    holds each exactly once, in order (the row lock is the fence)."""
    lines = [f"line {n}".encode() for n in range(200)]
    with psycopg.connect(fleet, autocommit=True) as conn:
        conn.execute("SELECT * FROM sealguard.enrol('o', 'k', 'p', 'h', NULL)")
    answers: list[int] = []

    def writer(step: int) -> None:
        with psycopg.connect(fleet, autocommit=True) as conn:
            first = 0
            while first < len(lines):
                status, _, size = conn.execute(
                    "SELECT * FROM sealguard.append('o', %s, %s::bytea[], NULL)",
                    (first, lines[first : first + step]),
                ).fetchone()
                answers.append(status)
                first = size if status == 409 else first + step

    threads = [threading.Thread(target=writer, args=(step,)) for step in (1, 3, 7, 50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    held = _rows(fleet, "SELECT seq, line FROM sealguard.entries ORDER BY seq")
    assert [(seq, bytes(line)) for seq, line in held] == list(enumerate(lines))
    assert set(answers) <= {200, 409}
    assert _rows(fleet, "SELECT count(*) FROM sealguard.refusals") == [(0,)]


# --- shipping --------------------------------------------------------------------------------


def test_every_act_ships_its_lines_and_checkpoint(tmp_path: Path, invoke, fleet: str) -> None:
    project = _sealed(tmp_path, invoke, fleet)
    for _ in range(3):
        assert _run(invoke, project, "observe").exit_code == 0
    ledger = _ledger(project)
    origin = _origin(project)
    assert _held_lines(fleet, origin) == lines_of(ledger)
    notes = {r[0] for r in _rows(fleet, "SELECT note FROM sealguard.checkpoints")}
    assert ledger.checkpoint.read_text() in notes
    ((name, host, size),) = _rows(fleet, "SELECT project, host, size FROM sealguard.logs")
    assert (name, host, size) == ("project", "h1", len(lines_of(ledger)))
    cursor = read_cursor(ledger, origin)
    assert cursor is not None and cursor.size == size
    assert cursor.offset == ledger.log.stat().st_size


def test_a_host_cut_off_keeps_observing_and_catches_up_in_order(
    tmp_path: Path, invoke, pg_admin_url: str
) -> None:
    """The database is unreachable (its schema not made yet): every act is written locally with
    one warning line; once it is there, the next act ships all that is owed."""
    project = _sealed(tmp_path, invoke, pg_admin_url)
    assert "sealguard: " in _run(invoke, project, "observe").stderr
    result = _run(invoke, project, "observe")
    assert result.exit_code == 0
    warning = [line for line in result.stderr.splitlines() if "the next act ships" in line]
    assert len(warning) == 1
    with database.connect(pg_admin_url) as conn:
        database.install(conn)
        conn.commit()
    assert _run(invoke, project, "observe").exit_code == 0
    assert _held_lines(pg_admin_url, _origin(project)) == lines_of(_ledger(project))


def test_an_observation_cut_off_says_so_in_one_line(
    tmp_path: Path, invoke, pg_admin_url: str
) -> None:
    """Before: three lines of one cause (the pull of decisions, the check, the shipment)."""
    project = _sealed(tmp_path, invoke, pg_admin_url + "_gone")  # no such database
    database._UNREACHABLE.clear()  # each command is a process of its own
    done = _run(invoke, project, "observe")
    assert done.exit_code == 0, done.output
    (line,) = done.stderr.splitlines()
    assert line.startswith("sealguard: ") and "cannot connect (" in line
    for said in ("not held against the fleet database", "decisions published for this host",
                 "the log here keeps every line", "the next act ships what is owed"):  # fmt: skip
        assert said in line, line
    database._UNREACHABLE.clear()
    checked = _run(invoke, project, "verify")  # no session: the check says it for itself
    assert checked.exit_code == 0 and "cannot connect (" in checked.stderr


def test_an_observation_connects_to_the_database_once_before_its_probes_and_once_after(
    tmp_path: Path, invoke, fleet: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: four connections (two audits, the pull of decisions, the shipment), each a new
    backend on the server. Now one for what comes before the probes, closed while they run (a
    probe may take minutes: the server's slot is not held), one for what follows."""
    from sealguard.observe import observation

    project = _sealed(tmp_path, invoke, fleet)
    assert _run(invoke, project, "observe").exit_code == 0
    opened: list[psycopg.Connection] = []
    held_while_probing: list[bool] = []
    real_connect, real_probe = database.psycopg.connect, observation.run_probe

    def counted(*args: object, **kwargs: object) -> psycopg.Connection:
        opened.append(real_connect(*args, **kwargs))  # type: ignore[arg-type]
        return opened[-1]

    def probe(*args: object, **kwargs: object) -> object:
        held_while_probing.append(any(not conn.closed for conn in opened))
        return real_probe(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(database.psycopg, "connect", counted)
    monkeypatch.setattr(observation, "run_probe", probe)
    (project.root / "data" / "value.txt").write_text("2\n")  # a drift: more acts, same count
    done = _run(invoke, project, "observe")
    assert done.exit_code == 2, done.output
    assert len(opened) == 2 and held_while_probing == [False], (opened, held_while_probing)
    assert all(conn.closed for conn in opened)
    assert _held_lines(fleet, _origin(project)) == lines_of(_ledger(project))


def test_a_files_only_observation_connects_once(
    tmp_path: Path, invoke, fleet: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No probe runs: the one connection serves the pull, the checks and the shipments."""
    root = tmp_path / "docs"
    write_tree(
        root,
        {
            "src/app.py": "print('hello')\n",
            "governance/sealguard.toml": '[seal]\npaths = ["src/**"]\nfiles_only = true\n'
            f'\n[ledger]\nurl = "{fleet}"\nhost = "h1"\n',
        },
    )
    project = Project(root)
    assert _run(invoke, project, "seal").exit_code == 0
    opened: list[object] = []
    real = database.psycopg.connect

    def counted(*args: object, **kwargs: object) -> object:
        opened.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return opened[-1]

    monkeypatch.setattr(database.psycopg, "connect", counted)
    assert _run(invoke, project, "observe").exit_code == 0
    assert len(opened) == 1, opened
    assert _held_lines(fleet, _origin(project)) == lines_of(_ledger(project))


def test_fleet_push_ships_what_is_owed_and_says_so(
    tmp_path: Path, invoke, pg_admin_url: str
) -> None:
    project = _sealed(tmp_path, invoke, pg_admin_url)  # unreachable: nothing shipped
    pushed = _run(invoke, project, "fleet", "push")
    assert pushed.exit_code == 69 and "sealguard fleet init" in pushed.stderr
    with database.connect(pg_admin_url) as conn:
        database.install(conn)
        conn.commit()
    pushed = _run(invoke, project, "fleet", "push")
    lines = len(lines_of(_ledger(project)))
    assert pushed.exit_code == 0 and f"holds {lines} lines of this log ({lines} sent now)" in (
        pushed.output
    )
    again = _run(invoke, project, "fleet", "push")
    assert again.exit_code == 0 and "(0 sent now)" in again.output


def test_a_stale_cursor_is_corrected_by_the_databases_answer(
    tmp_path: Path, invoke, fleet: str
) -> None:
    project = _sealed(tmp_path, invoke, fleet)
    assert _run(invoke, project, "observe").exit_code == 0
    ledger = _ledger(project)
    ledger.shipped.write_text(json.dumps({"origin": _origin(project), "size": 1, "offset": 7}))
    assert _run(invoke, project, "observe").exit_code == 0
    assert _held_lines(fleet, _origin(project)) == lines_of(ledger)
    assert _rows(fleet, "SELECT count(*) FROM sealguard.refusals") == [(0,)]


def test_a_password_in_the_url_is_refused_with_its_line(tmp_path: Path, invoke) -> None:
    project = _project(tmp_path, "postgresql://u:secret@db/x")
    result = _run(invoke, project, "seal")
    assert result.exit_code == 78
    assert "sealguard.toml:" in result.stderr and "ledger.url" in result.stderr
    assert "PGPASSWORD" in result.stderr and "secret" not in result.stderr


# --- the host's log held against the database ------------------------------------------------


def _observe_json(invoke, project: Project) -> tuple[int, dict]:  # type: ignore[no-untyped-def, type-arg]
    result = _run(invoke, project, "observe", "--json")
    return result.exit_code, json.loads(result.stdout)


def test_a_log_cut_back_below_what_the_database_accepted_is_an_incident(
    tmp_path: Path, invoke, fleet: str
) -> None:
    project = _sealed(tmp_path, invoke, fleet)
    assert _run(invoke, project, "observe").exit_code == 0
    saved = runtime_files(project.runtime)
    (project.root / "data/value.txt").write_text("2\n")
    assert _run(invoke, project, "observe").exit_code == 2  # FROZEN, shipped
    restore(project.runtime, saved)  # the attacker undoes the freeze
    verified = _run(invoke, project, "verify")
    assert verified.exit_code == 3 and "cut back" in verified.output
    code, event = _observe_json(invoke, project)
    assert code == 3 and event["classification"] == "INCIDENT"


def test_a_history_rewritten_with_the_stolen_key_is_a_fork(
    tmp_path: Path, invoke, fleet: str
) -> None:
    project = _sealed(tmp_path, invoke, fleet)
    assert _run(invoke, project, "observe").exit_code == 0
    ledger = _ledger(project)
    lines = lines_of(ledger)
    event = json.loads(lines[1])
    event["ts"] = "2000-01-01T00:00:00Z"
    lines[1] = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
    resign(ledger, lines)  # every checkpoint re-signed: nothing in the project can tell
    verified = _run(invoke, project, "verify")
    assert verified.exit_code == 3 and "the history was rewritten" in verified.output
    _run(invoke, project, "observe")  # its lines are refused by the database, and kept
    refusals = _rows(fleet, "SELECT status, reason FROM sealguard.refusals")
    assert refusals and refusals[0][0] == 422 and "not the root" in refusals[0][1]


def test_a_project_wiped_and_resealed_is_caught_by_the_database(
    tmp_path: Path, invoke, fleet: str
) -> None:
    project = _sealed(tmp_path, invoke, fleet)
    assert _run(invoke, project, "observe").exit_code == 0
    shutil.rmtree(project.governance)
    write_tree(project.root, {"governance/sealguard.toml": _config(fleet)})
    (project.root / "src/app.py").write_text("print('hot fix')\n")
    sealed = _run(invoke, project, "seal")
    assert sealed.exit_code == 0 and "re-sealed or re-keyed" in sealed.stderr
    verified = _run(invoke, project, "verify")
    assert verified.exit_code == 3 and "re-sealed or re-keyed" in verified.output
    pushed = _run(invoke, project, "fleet", "push")
    assert pushed.exit_code == 4 and "refused to keep log" in pushed.stderr
    code, event = _observe_json(invoke, project)
    assert code == 3 and event["classification"] == "INCIDENT"


def test_an_unreachable_database_is_no_incident(tmp_path: Path, invoke, pg_admin_url: str) -> None:
    project = _sealed(tmp_path, invoke, pg_admin_url + "_gone")
    assert _run(invoke, project, "verify").exit_code == 0
    code, event = _observe_json(invoke, project)
    assert code == 0 and event["classification"] == "STABLE"


def test_two_hosts_of_one_project_are_two_logs(tmp_path: Path, invoke, fleet: str) -> None:
    one = _sealed(tmp_path, invoke, fleet, name="a", host="h1")
    two = _project(tmp_path, fleet, name="b", host="h2")
    (two.governance / "sealguard.toml").write_text(_config(fleet, "h2", 'project = "a"\n'))
    assert _run(invoke, two, "seal").exit_code == 0
    for project in (one, two):
        assert _run(invoke, project, "observe").exit_code == 0
    rows = _rows(fleet, "SELECT project, host, origin FROM sealguard.logs ORDER BY host")
    assert [(p, h) for p, h, _ in rows] == [("a", "h1"), ("a", "h2")]
    assert {o for _, _, o in rows} == {_origin(one), _origin(two)}


def test_signing_a_checkpoint_the_database_did_not_build_is_refused(fleet: str) -> None:
    """A host that signs a root over other lines than it shipped: 422, nothing kept."""
    key = Ed25519PrivateKey.generate()
    origin = origin_for(key.public_key().public_bytes_raw())
    tree = CompactRange()
    tree.push(leaf_hash(b"other"))
    note = sign(origin, 1, tree.root(), origin, key).note()
    with psycopg.connect(fleet, autocommit=True) as conn:
        conn.execute("SELECT * FROM sealguard.enrol(%s, 'k', 'p', 'h', NULL)", (origin,))
        answer = conn.execute(
            "SELECT * FROM sealguard.append(%s, 0, %s::bytea[], %s)", (origin, [b"line"], note)
        ).fetchone()
    assert answer[0] == 422
    assert _rows(fleet, "SELECT count(*) FROM sealguard.entries") == [(0,)]


def test_fleet_init_never_echoes_a_password_given_in_the_url(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("fleet", "init", "--url", "postgresql://admin:hunter2@db.example/x")
    assert result.exit_code == 64 and "hunter2" not in result.output
    assert "postgresql://admin:***@db.example/x" in result.output


def test_a_refused_backlog_leaves_no_line_without_its_checkpoint(
    tmp_path: Path, fleet: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forked log with a backlog of several chunks: the database keeps the refusal, and none
    of the chunks it had accepted before the last one was refused (no unsigned lines)."""
    from dataclasses import replace

    from sealguard.fleet import shipping
    from sealguard.ledger.layout import FleetPlace

    monkeypatch.setattr(shipping, "CHUNK_LINES", 2)
    ledger = replace(Ledger.in_folder(tmp_path / "log"), fleet=FleetPlace(fleet, "p", "h"))
    for n in range(3):
        append(ledger, "event", {"n": n})
    origin = origin_for(public_bytes(load_key(ledger.key_file)))
    held = len(_held_lines(fleet, origin))
    lines = lines_of(ledger)
    lines[0] = lines[0].replace(b'"n":0', b'"n":9') if b'"n":0' in lines[0] else lines[0] + b" "
    resign(ledger, [*lines, *(b'{"more":%d}' % k for k in range(7))])
    with pytest.raises(shipping.ShipRefused):
        from sealguard.ledger.writer import ship_owed

        ship_owed(ledger)
    assert len(_held_lines(fleet, origin)) == held
    refusals = _rows(fleet, "SELECT status FROM sealguard.refusals WHERE origin = %s", origin)
    assert refusals == [(422,)]
