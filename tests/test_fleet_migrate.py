"""`sealguard log migrate --to URL`: a project's file log copied into the fleet database, proved
the same tree there, idempotent, and refused where the database keeps another history."""

import base64
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import Result

from sealguard.errors import IntegrityError
from sealguard.fleet import migration
from sealguard.fleet.database import connect
from sealguard.fleet.urls import shown
from sealguard.ledger import Ledger, append, read_events
from sealguard.ledger.note import parse, parse_verifier_key, split_history
from sealguard.project import Project

from .conftest import MakeTree
from .fleet_logs import installed, tree_of
from .ledger_helpers import lines_of

if TYPE_CHECKING:
    from .postgres import PgDatabase

Invoke = Callable[..., Result]
CONFIG = (
    '[seal]\npaths = ["src/**"]\nfiles_only = true\n\n[ledger]\nproject = "calc"\nhost = "h1"\n'
)


def _sealed(make_project: MakeTree, invoke: Invoke, events: int, name: str = "project") -> Project:
    project = make_project(config=CONFIG, name=name)
    assert invoke("--project", str(project.root), "seal").exit_code == 0
    _events(project, events)
    return project


def _events(project: Project, count: int, text: str = "note") -> None:
    for n in range(count):
        append(Ledger.in_folder(project.runtime), "note", {"n": n, "text": text})


def _migrate(invoke: Invoke, project: Project, url: str) -> Result:
    return invoke("--project", str(project.root), "log", "migrate", "--to", url)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_a_file_log_is_copied_and_proved_the_same_tree(
    make_project: MakeTree, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    url = installed(pg_database)
    project = _sealed(make_project, invoke, 3)
    ledger = Ledger.in_folder(project.runtime)
    origin = read_events(ledger.log)[0]["log_key"]["origin"]
    before = {p: p.read_bytes() for p in (ledger.log, ledger.checkpoint, ledger.history)}
    result = _migrate(invoke, project, url)
    assert result.exit_code == 0, result.output
    root = _b64(tree_of(lines_of(ledger)).root())
    where = f"{shown(pg_database.admin_url)}"
    assert result.output.splitlines() == [
        f"sent 4 lines of log {origin} (calc on h1) to {where}; it holds 4",
        f"root: the database's tree at 4 lines is {root}, the root of this log's checkpoint at "
        f"4 lines, signed by the log key {origin}",
        "consistency: a proof of 0 hash(es) from 4 to 4 lines verifies against the database's "
        f"newest checkpoint (root {root})",
        "next: have every act ship there: in a staging copy of the build, set in "
        "governance/sealguard.toml",
        "  [ledger]",
        f'  url = "{url}"',
        '  project = "calc"',
        '  host = "h1"',
        "then `sealguard propose --from STAGING`, an Architect signs `sealguard decide PRO_… "
        "amend`, and deploy the file: the next observation installs it. The files here stay "
        "this host's log (its spool and evidence) either way.",
    ]
    assert {p: p.read_bytes() for p in before} == before  # the files are untouched
    verified = invoke("log", "verify", "--url", url, "--origin", origin)
    assert verified.exit_code == 0 and "4 lines" in verified.output
    again = _migrate(invoke, project, url)
    assert again.exit_code == 0
    assert (
        again.output.splitlines()[0]
        == f"sent 0 lines of log {origin} (calc on h1) to {where}; it holds 4"
    )
    assert again.output.splitlines()[1:3] == result.output.splitlines()[1:3]
    _events(project, 2)
    grown = _migrate(invoke, project, url)
    assert grown.exit_code == 0
    assert (
        grown.output.splitlines()[0]
        == f"sent 2 lines of log {origin} (calc on h1) to {where}; it holds 6"
    )


def test_the_consistency_proof_from_an_older_checkpoint(
    make_project: MakeTree, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    url = installed(pg_database)
    project = _sealed(make_project, invoke, 6)
    assert _migrate(invoke, project, url).exit_code == 0
    ledger = Ledger.in_folder(project.runtime)
    older = parse(split_history(ledger.history.read_text())[2])  # the checkpoint at 3 lines
    origin = older.origin
    public = parse_verifier_key(read_events(ledger.log)[0]["log_key"]["verifier_key"])[1]
    with connect(url) as conn:
        at_older, held, proof = migration._proved(conn, origin, public, older)
    assert older.size == 3 and held.size == 7 and at_older == older.root
    assert len(proof) == 4  # RFC 9162 PROOF(3, D[7]): the nodes of lines 3, 4, 1-2 and 5-7
    zero = _b64(bytes(32))
    forged = parse(split_history(ledger.history.read_text())[2].replace(_b64(older.root), zero))
    with connect(url) as conn, pytest.raises(IntegrityError) as caught:
        migration._proved(conn, origin, public, forged)
    assert caught.value.message == (
        f"log {origin}: the database's tree is not this log's: its root at 3 lines is "
        f"{_b64(older.root)}, the checkpoint here says {zero}"
    )


def test_a_database_keeping_another_history_is_refused_before_anything_is_sent(
    make_project: MakeTree, pg_database: "PgDatabase", invoke: Invoke, tmp_path: Path
) -> None:
    url = installed(pg_database)
    first = _sealed(make_project, invoke, 2, "first")
    copy = tmp_path / "copy"
    shutil.copytree(first.root, copy)  # the same log key: the same origin
    _events(first, 2, "here")
    assert _migrate(invoke, first, url).exit_code == 0
    origin = read_events(first.log_file)[0]["log_key"]["origin"]
    shorter = _migrate(invoke, Project(copy), url)
    assert shorter.exit_code == 4
    assert shorter.stderr == (
        f"sealguard: {shown(pg_database.admin_url)} keeps another history of this log: it "
        f"holds 5 lines of log {origin}, more than the 3 here; nothing was sent\n"
    )
    _events(Project(copy), 3, "elsewhere")
    forked = _migrate(invoke, Project(copy), url)
    assert forked.exit_code == 4
    assert forked.stderr == (
        f"sealguard: {shown(pg_database.admin_url)} keeps another history of this log: its 5 "
        f"lines of log {origin} are not this log's first 5; nothing was sent\n"
    )
    resealed = _sealed(make_project, invoke, 1, "resealed")  # calc on h1 again, another key
    other = read_events(resealed.log_file)[0]["log_key"]["origin"]
    refused = _migrate(invoke, resealed, url)
    assert refused.exit_code == 4
    assert refused.stderr == (
        f"sealguard: {shown(pg_database.admin_url)} keeps another history of this log: it "
        f"keeps calc on h1 as log {origin} (5 lines), not as this log {other}: give this host "
        "another name ([ledger] host), or find out why this project was re-sealed; nothing was "
        "sent\n"
    )
    with pg_database.connect() as conn:
        assert conn.execute("SELECT count(*) FROM sealguard.refusals").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM sealguard.logs").fetchone() == (1,)


def test_a_log_that_is_not_intact_is_not_copied(
    make_project: MakeTree, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    url = installed(pg_database)
    project = _sealed(make_project, invoke, 2)
    data = project.log_file.read_bytes()
    project.log_file.write_bytes(data.replace(b'"n":1', b'"n":7'))
    result = _migrate(invoke, project, url)
    assert result.exit_code == 3
    assert result.stderr.startswith(f"sealguard: {project.log_file}: not intact (FORK: ")
    assert result.stderr.endswith("nothing was copied: `sealguard log verify` says what is wrong\n")
    with pg_database.connect() as conn:
        assert conn.execute("SELECT count(*) FROM sealguard.logs").fetchone() == (0,)


def test_a_project_already_shipping_there_is_told_so(
    make_project: MakeTree, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    url = installed(pg_database)
    project = make_project(config=CONFIG + f'url = "{url}"\n')
    assert invoke("--project", str(project.root), "seal").exit_code == 0
    result = _migrate(invoke, project, url)
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("sent 0 lines of log ")
    assert result.output.splitlines()[3:] == [
        "this project's [ledger] url is already this database: every act ships there"
    ]


def test_migrate_needs_a_sealed_project_and_a_reachable_database(
    make_project: MakeTree, invoke: Invoke
) -> None:
    project = make_project(config=CONFIG)
    result = _migrate(invoke, project, "postgresql://nobody@127.0.0.1:1/fleet")
    assert result.exit_code == 64 and "`log migrate` needs a sealed project" in result.stderr
    assert invoke("--project", str(project.root), "seal").exit_code == 0
    result = _migrate(invoke, project, "postgresql://nobody@127.0.0.1:1/fleet")
    assert result.exit_code == 69
    assert result.stderr.startswith(
        "sealguard: postgresql://nobody@127.0.0.1:1/fleet: cannot connect ("
    )


def test_migrate_into_a_database_without_the_fleet_ledger(
    make_project: MakeTree, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    project = _sealed(make_project, invoke, 1)
    result = _migrate(invoke, project, pg_database.admin_url)
    assert result.exit_code == 64
    assert result.stderr == (
        "sealguard: this database holds no fleet ledger (schema sealguard): "
        "`sealguard fleet init --url URL` makes it\n"
    )
