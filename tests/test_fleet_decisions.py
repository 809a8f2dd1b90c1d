"""Decisions for many hosts: a proposal says where it applies (some hosts, or every host of a
build); the decision signing it is published once to the fleet database, and each host picks
it up (when it observes, or with `sealguard fleet pull`), checks it against its own
AUTHORITY.toml and baseline, and journals it, or journals why not, once.

Real PostgreSQL (the machine's server over its socket, a database and an observer login role
per test: see `fleet_db`), real ssh-keygen keys, the real CLI. The hosts share one machine:
each runs under its own host name (`socket.gethostname`, what the fleet names a host by when
the config does not; hosts of one build share one sealed sealguard.toml, so it cannot name
them)."""

import hashlib
import json
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import rfc8785
from click.testing import Result

from sealguard import ledger
from sealguard.config import load_config
from sealguard.decide.audit import check_decisions
from sealguard.fleet import database
from sealguard.fleet.database import install
from sealguard.ledger.view import leaves
from sealguard.project import Project
from sealguard.seal.sealing import seal

from .decision_projects import Team, authority_text, events_of, key_args, run, state_of
from .postgres import PgDatabase
from .probe_projects import unsealed_cat_project
from .ssh_tools import keygen_sign

FLEET_NAMESPACE = "sealguard-fleet-decision"


@dataclass(frozen=True)
class FleetDb:
    url: str  # as a host's sealguard.toml names it: an observer login role, no password
    admin: str  # the superuser's connection string for the same database

    def execute(self, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """As a superuser who turns the triggers off (replica mode) first."""
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")
            cursor = conn.execute(query.encode(), params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture
def fleet_db(monkeypatch: pytest.MonkeyPatch, pg_database: "PgDatabase") -> FleetDb:
    """A fresh database with the fleet schema, and a login role in sealguard_observer whose
    password the hosts read from PGPASSWORD (tests/postgres.py drops both after the test)."""
    with psycopg.connect(pg_database.admin_url) as conn:
        install(conn)
        conn.commit()
    role = pg_database.login_role(member_of=["sealguard_observer"])
    monkeypatch.setenv("PGPASSWORD", role.password)
    monkeypatch.setenv("PGPORT", str(role.port))  # not in the URL: a test cuts it by PGPORT
    return FleetDb(f"postgresql://{role.name}@127.0.0.1/{role.database}", pg_database.admin_url)


@dataclass(frozen=True)
class Host:
    name: str
    project: Project


def on(monkeypatch: pytest.MonkeyPatch, host: Host, *args: str) -> Result:
    """The CLI run on `host`: its project, under its host name."""
    getattr(database, "_UNREACHABLE", {}).clear()  # each command is a process of its own
    with monkeypatch.context() as patched:
        patched.setattr(socket, "gethostname", lambda: host.name)
        return run(host.project, *args)


def make_host(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    db: FleetDb,
    name: str,
    *,
    build: str,
    authority: str,
) -> Host:
    """A host running the cat project `calc` of `build`, sealed with `authority`; hosts of one
    build hold the same sealguard.toml (no host name in it)."""
    extra = f'\n[ledger]\nurl = "{db.url}"\nbuild = "{build}"\n'
    project = unsealed_cat_project(tmp_path / name, "calc", extra=extra)
    project.authority_file.write_text(authority)
    with monkeypatch.context() as patched:
        patched.setattr(socket, "gethostname", lambda: name)
        seal(project, load_config(project.config_file), jobs=1)
    return Host(name, project)


def staged(host: Host, staging: Path) -> Path:
    """A staging copy of the build with the release's change (a new src/app.py)."""
    shutil.copytree(
        host.project.root, staging,
        ignore=shutil.ignore_patterns("runtime", "baseline", "BASELINE_REF.sha256"),
    )  # fmt: skip
    (staging / "src" / "app.py").write_text("print('app 1.1')\n")
    return staging


def deploy(staging: Path, host: Host) -> None:
    shutil.copyfile(staging / "src" / "app.py", host.project.root / "src" / "app.py")


def propose(mp: pytest.MonkeyPatch, host: Host, staging: Path, *where: str) -> str:
    proposed = on(mp, host, "propose", "--from", str(staging), *where, "--reason", "release 1.1")
    assert proposed.exit_code == 0, proposed.output
    return proposed.output.split(":")[0]


def decide(mp: pytest.MonkeyPatch, host: Host, pro: str, team: Team) -> Result:
    return on(
        mp, host, "decide", pro, "reseal", "--reason", "release 1.1 approved",
        *key_args(team.alice),
    )  # fmt: skip


def released(mp: pytest.MonkeyPatch, tmp_path: Path, host: Host, team: Team, *where: str) -> str:
    """Release 1.1 staged in tmp_path/staging, proposed on `host` for `where` (by default the
    build calc-1) and decided there by Alice: the proposal's id."""
    staging = staged(host, tmp_path / "staging")
    pro = propose(mp, host, staging, *(where or ("--build", "calc-1")))
    assert decide(mp, host, pro, team).exit_code == 0
    return pro


def pulled_twice(mp: pytest.MonkeyPatch, host: Host) -> None:
    """`fleet pull` on `host`, twice: what it takes or refuses, it does once."""
    for _ in range(2):
        pulled = on(mp, host, "fleet", "pull")
        assert pulled.exit_code == 0, pulled.output


@contextmanager
def out_of_reach(mp: pytest.MonkeyPatch) -> Iterator[None]:
    """The database out of reach: PGPORT names a port bound, never listening (refused)."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    with closed, mp.context() as cut:
        cut.setenv("PGPORT", str(closed.getsockname()[1]))
        yield


def refusals(host: Host) -> list[dict[str, object]]:
    return [e for e in events_of(host.project, "decision_refused") if e.get("fleet_id")]


@pytest.fixture
def hosts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fleet_db: FleetDb, team: Team
) -> tuple[Host, Host, Host]:
    """h1 and h2 run build calc-1, h3 runs calc-2; all three trust Alice and Bob."""
    made = [
        make_host(
            monkeypatch, tmp_path, fleet_db, name, build=build, authority=authority_text(team)
        )
        for name, build in (("h1", "calc-1"), ("h2", "calc-1"), ("h3", "calc-2"))
    ]
    return made[0], made[1], made[2]


def test_a_decision_for_a_build_applies_on_its_hosts_and_not_on_another_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hosts: tuple[Host, Host, Host], team: Team
) -> None:
    h1, h2, h3 = hosts
    staging = staged(h1, tmp_path / "staging")
    pro = propose(monkeypatch, h1, staging, "--build", "calc-1")
    decided = decide(monkeypatch, h1, pro, team)
    assert decided.exit_code == 0, decided.output
    assert "published" in decided.output and "calc-1" in decided.output
    dec = events_of(h1.project, "decision")[-1]
    assert dec["fleet_id"] == dec["decision_id"] and state_of(h1.project).authorised is not None
    # h2 picks it up when it next observes (the old build is still STABLE against v1)
    assert on(monkeypatch, h2, "observe").exit_code == 0
    on_h2 = events_of(h2.project, "decision")
    assert [e["decision_id"] for e in on_h2] == [dec["decision_id"]]
    assert on_h2[0]["signers"][0]["id"] == "amartin"
    authorised = state_of(h2.project).authorised
    assert authorised is not None and authorised.proposal == pro
    for host in (h1, h2):  # deployed: the observation that sees it installs v2
        deploy(staging, host)
        done = on(monkeypatch, host, "observe", "--json")
        assert done.exit_code == 0, done.output
        assert pro in json.loads(done.stdout)["authorised_change"]
        assert state_of(host.project).version == 2
    # h3 runs another build: refused there, with the reason, once
    pulled = on(monkeypatch, h3, "fleet", "pull")
    assert pulled.exit_code == 0, pulled.output
    assert "refused (scope)" in pulled.output
    assert on(monkeypatch, h3, "fleet", "pull").exit_code == 0
    assert on(monkeypatch, h3, "observe").exit_code == 0
    refused = refusals(h3)
    assert [(e["fleet_id"], e["reason_code"]) for e in refused] == [(dec["decision_id"], "scope")]
    assert "calc-1" in str(refused[0]["message"]) and "calc-2" in str(refused[0]["message"])
    assert not events_of(h3.project, "decision") and state_of(h3.project).version == 1
    for host in hosts:
        verified = on(monkeypatch, host, "verify")
        assert verified.exit_code == 0, (host.name, verified.output)


def test_a_decision_for_one_host_applies_there_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hosts: tuple[Host, Host, Host], team: Team
) -> None:
    h1, h2, _ = hosts
    staging = staged(h2, tmp_path / "staging")
    pro = propose(monkeypatch, h2, staging, "--hosts", "h1")  # proposed on h2, for h1 alone
    # signed elsewhere: the payload, ssh-keygen under the fleet namespace, attached
    made = on(monkeypatch, h2, "decide", pro, "reseal", "--reason", "h1 first", "--payload-only")
    assert made.exit_code == 0, made.output
    payload = tmp_path / "payload.json"
    payload.write_bytes(made.stdout_bytes)
    assert json.loads(payload.read_bytes())["scope"] == {"build": None, "hosts": ["h1"]}
    signature = tmp_path / "alice.sig"
    signature.write_text(keygen_sign(team.alice, payload, FLEET_NAMESPACE))
    attached = on(monkeypatch, h2, "decide", pro, "--payload", str(payload),
                  "--signature", str(signature))  # fmt: skip
    assert attached.exit_code == 0, attached.output
    assert "refused (scope)" in attached.output  # published; h2 is not in its scope
    assert state_of(h2.project).authorised is None
    pulled = on(monkeypatch, h1, "fleet", "pull")
    assert pulled.exit_code == 0 and "authorised" in pulled.output, pulled.output
    deploy(staging, h1)
    assert on(monkeypatch, h1, "observe").exit_code == 0
    assert state_of(h1.project).version == 2
    deploy(staging, h2)  # nothing authorised on h2: the same tree is an INCIDENT there
    assert on(monkeypatch, h2, "observe").exit_code == 3
    assert state_of(h2.project).version == 1


def test_a_signer_this_hosts_authority_does_not_know_is_refused_there(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fleet_db: FleetDb, team: Team
) -> None:
    h1 = make_host(
        monkeypatch, tmp_path, fleet_db, "h1", build="calc-1", authority=authority_text(team)
    )
    only_bob = "[[person]]" + authority_text(team).split("[[person]]")[2]  # Alice is unknown
    h2 = make_host(monkeypatch, tmp_path, fleet_db, "h2", build="calc-1", authority=only_bob)
    released(monkeypatch, tmp_path, h1, team)
    pulled_twice(monkeypatch, h2)
    refused = refusals(h2)
    assert [e["reason_code"] for e in refused] == ["unknown-key"]  # once
    assert team.alice.public.fingerprint in refused[0]["claimed_signers"]  # type: ignore[operator]
    assert state_of(h2.project).authorised is None
    assert not events_of(h2.project, "decision")


def test_a_replayed_fleet_decision_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fleet_db: FleetDb,
    hosts: tuple[Host, Host, Host],
    team: Team,
) -> None:
    h1, h2, _ = hosts
    pro = released(monkeypatch, tmp_path, h1, team)
    assert on(monkeypatch, h2, "fleet", "pull").exit_code == 0
    [dec] = events_of(h2.project, "decision")
    # published again under another id, by someone who can write the database
    fleet_db.execute(
        "INSERT INTO sealguard.decisions (decision_id, project, proposal_id, build, hosts,"
        " payload, signatures) SELECT 'DEC_20990101_000000_00000000', project, proposal_id,"
        " build, hosts, payload, signatures FROM sealguard.decisions"
    )
    pulled_twice(monkeypatch, h2)
    assert [e["reason_code"] for e in refusals(h2)] == ["replayed"]
    assert len(events_of(h2.project, "decision")) == 1
    # the same payload and signature attached by hand on a host that applied it
    [(payload, signatures)] = fleet_db.execute(
        "SELECT payload, signatures FROM sealguard.decisions WHERE decision_id = %s",
        (dec["decision_id"],),
    )
    data, sig = tmp_path / "payload.json", tmp_path / "payload.json.sig"
    data.write_bytes(payload)  # type: ignore[arg-type]
    sig.write_text(signatures[0])  # type: ignore[index]
    again = on(monkeypatch, h2, "decide", pro, "--payload", str(data), "--signature", str(sig))
    assert again.exit_code == 4 and "(replayed)" in again.output, again.output
    # installed: pulling again takes nothing again
    deploy(tmp_path / "staging", h2)
    assert on(monkeypatch, h2, "observe").exit_code == 0
    assert state_of(h2.project).version == 2
    assert on(monkeypatch, h2, "fleet", "pull").exit_code == 0
    assert len(events_of(h2.project, "decision")) == 1


def test_a_decision_row_edited_in_the_database_is_refused_by_the_host(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fleet_db: FleetDb,
    hosts: tuple[Host, Host, Host],
    team: Team,
) -> None:
    h1, h2, _ = hosts
    released(monkeypatch, tmp_path, h1, team, "--hosts", "h1")
    [(payload,)] = fleet_db.execute("SELECT payload FROM sealguard.decisions")
    widened = json.loads(payload)  # type: ignore[arg-type]
    widened["scope"]["hosts"] = ["h1", "h2"]  # the superuser adds h2, in canonical form
    fleet_db.execute(
        "UPDATE sealguard.decisions SET payload = %s, hosts = %s",
        (rfc8785.dumps(widened) + b"\n", ["h1", "h2"]),
    )
    pulled = on(monkeypatch, h2, "fleet", "pull")
    assert pulled.exit_code == 0, pulled.output
    [refused] = refusals(h2)
    assert refused["reason_code"] == "mismatch", refused
    assert state_of(h2.project).authorised is None


EDITS = {
    # the proposal's manifest now lets a backdoor in
    "manifest": "UPDATE sealguard.proposal_files SET content = content || "
    "'0000000000000000000000000000000000000000000000000000000000000000  src/backdoor.py\n'"
    " WHERE path = 'BASELINE_REF.sha256'",
    "a file gone": "DELETE FROM sealguard.proposal_files WHERE path LIKE 'baseline/%%/probe.json'",
    "the diff read": "UPDATE sealguard.proposals SET diff = 'nothing changes'",
    "its record": 'UPDATE sealguard.proposals SET record = record || \'{"reason": "other"}\'',
}


@pytest.mark.parametrize("edit", EDITS)
def test_a_proposal_edited_in_the_database_is_refused_by_the_host(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    fleet_db: FleetDb,
    hosts: tuple[Host, Host, Host],
    team: Team,
    edit: str,
) -> None:
    h1, h2, _ = hosts
    pro = released(monkeypatch, tmp_path, h1, team)
    fleet_db.execute(EDITS[edit])  # the signed decision is intact
    assert on(monkeypatch, h2, "fleet", "pull").exit_code == 0
    [refused] = refusals(h2)
    assert refused["reason_code"] == "evidence", refused
    assert state_of(h2.project).authorised is None
    assert not (h2.project.proposal_folder(pro)).exists()  # nothing of it written


def test_a_host_cut_off_picks_the_decision_up_when_it_reaches_the_database_again(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    hosts: tuple[Host, Host, Host],
    team: Team,
) -> None:
    h1, h2, _ = hosts
    released(monkeypatch, tmp_path, h1, team)
    with out_of_reach(monkeypatch):
        done = on(monkeypatch, h2, "observe")
        pulled = on(monkeypatch, h2, "fleet", "pull")
    assert done.exit_code == 0, done.output
    warned = [line for line in done.stderr.splitlines() if "decisions" in line]
    assert len(warned) == 1 and "cannot connect" in warned[0], done.stderr
    assert pulled.exit_code == 69 and len(pulled.output.strip().splitlines()) == 1
    assert not events_of(h2.project, "decision") and not refusals(h2)
    assert on(monkeypatch, h2, "observe").exit_code == 0  # reached again
    assert state_of(h2.project).authorised is not None


def test_verify_refuses_a_fleet_decision_whose_signed_payload_was_edited_in_the_log(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    hosts: tuple[Host, Host, Host],
    team: Team,
) -> None:
    h1, h2, _ = hosts
    released(monkeypatch, tmp_path, h1, team)
    assert on(monkeypatch, h2, "fleet", "pull").exit_code == 0
    events = ledger.read_events(h2.project.log_file)
    bound = leaves(h2.project.log_file)
    assert check_decisions(h2.project.root, events, bound) == []
    [decision] = [e for e in events if e.get("type") == "decision"]
    signed, payload_sha256 = decision["fleet"]["payload"], decision["payload_sha256"]
    # a forger with the log key: another reason, its hash computed again; the signatures fail
    decision["fleet"]["payload"] = {**signed, "reason": "something else"}
    forged = rfc8785.dumps(decision["fleet"]["payload"]) + b"\n"
    decision["payload_sha256"] = hashlib.sha256(forged).hexdigest()
    [found] = check_decisions(h2.project.root, events, bound)
    assert found.invariant == "INV-D-06" and "signature does not hold" in found.detail, found
    decision["fleet"]["payload"], decision["payload_sha256"] = signed, payload_sha256
    decision["fleet"]["place"]["build"] = "calc-2"  # recorded as taken out of its scope
    [found] = check_decisions(h2.project.root, events, bound)
    assert "calc-2" in found.detail, found
    decision["fleet"]["place"]["build"] = "calc-1"
    decision["reason"] = "something else"  # the host's fields say other than what was signed
    [found] = check_decisions(h2.project.root, events, bound)
    assert "not those of the fleet payload" in found.detail, found
    decision["reason"] = signed["reason"]
    assert check_decisions(h2.project.root, events, bound) == []
    proposal = next(e for e in events if e.get("type") == "proposal_made")
    summary, proposal["summary"] = proposal["summary"], {}  # not the proposal signed
    [found] = check_decisions(h2.project.root, events, bound)
    assert "the proposal it answers" in found.detail, found
    proposal["summary"] = summary
    sealed = next(e for e in events if e.get("type") == "baseline_sealed")
    sealed["baseline_sha256"] = "0" * 64  # journaled where the baseline was another
    [found] = check_decisions(h2.project.root, events, bound)
    assert "the one it replaces" in found.detail, found
    decision["fleet"]["payload"] = {"domain": "sealguard-fleet-decision/1"}
    [found] = check_decisions(h2.project.root, events, bound)
    assert "not a fleet decision record" in found.detail, found


def test_where_a_proposal_applies_is_checked_before_anything_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, team: Team
) -> None:
    project = unsealed_cat_project(tmp_path, "calc")
    project.authority_file.write_text(authority_text(team))
    seal(project, load_config(project.config_file), jobs=1)
    host = Host("h1", project)
    staging = staged(host, tmp_path / "staging")
    both = on(monkeypatch, host, "propose", "--from", str(staging), "--hosts", "h1",
              "--build", "b")  # fmt: skip
    assert both.exit_code == 64 and "either --hosts or --build" in both.output, both.output
    alone = on(monkeypatch, host, "propose", "--from", str(staging), "--build", "b")
    assert alone.exit_code == 64 and "[ledger] url" in alone.output, alone.output
    empty = on(monkeypatch, host, "propose", "--from", str(staging), "--hosts", "h1,,h2")
    assert empty.exit_code == 64 and "--hosts" in empty.output, empty.output
    assert not events_of(project, "proposal_made")
    pulled = on(monkeypatch, host, "fleet", "pull")
    assert pulled.exit_code == 64 and "[ledger] url" in pulled.output, pulled.output


def test_a_host_of_the_build_whose_baseline_is_another_refuses_it_as_stale(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fleet_db: FleetDb, team: Team
) -> None:
    h1 = make_host(
        monkeypatch, tmp_path, fleet_db, "h1", build="calc-1", authority=authority_text(team)
    )
    other = authority_text(team) + "# sealed apart\n"  # another AUTHORITY.toml: another baseline
    h2 = make_host(monkeypatch, tmp_path, fleet_db, "h2", build="calc-1", authority=other)
    released(monkeypatch, tmp_path, h1, team)
    pulled = on(monkeypatch, h2, "fleet", "pull")
    assert pulled.exit_code == 0 and "refused (stale)" in pulled.output, pulled.output
    assert [e["reason_code"] for e in refusals(h2)] == ["stale"]
    assert state_of(h2.project).authorised is None


def test_a_decision_its_rule_needs_more_signers_for_is_refused_and_not_published(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fleet_db: FleetDb, team: Team
) -> None:
    two = authority_text(team, "reseal = 2")
    h1 = make_host(monkeypatch, tmp_path, fleet_db, "h1", build="calc-1", authority=two)
    pro = propose(monkeypatch, h1, staged(h1, tmp_path / "staging"), "--build", "calc-1")
    alone = decide(monkeypatch, h1, pro, team)
    assert alone.exit_code == 4 and "(too-few)" in alone.output, alone.output
    assert fleet_db.execute("SELECT count(*) FROM sealguard.decisions") == [(0,)]
    assert [e["reason_code"] for e in refusals(h1)] == ["too-few"]
    both = on(monkeypatch, h1, "decide", pro, "reseal", "--reason", "two of us",
              *key_args(team.alice, team.bob))  # fmt: skip
    assert both.exit_code == 0, both.output
    assert len(events_of(h1.project, "decision")[-1]["signers"]) == 2


def test_a_decision_made_while_the_database_is_out_of_reach_is_neither_published_nor_journaled(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hosts: tuple[Host, Host, Host], team: Team
) -> None:
    h1, _, _ = hosts
    staging = staged(h1, tmp_path / "staging")
    with out_of_reach(monkeypatch):
        proposed = on(monkeypatch, h1, "propose", "--from", str(staging), "--build", "calc-1")
        pro = proposed.stdout.split(":")[0]
        decided = decide(monkeypatch, h1, pro, team)
    assert proposed.exit_code == 0, proposed.output  # journaled here; published with a decision
    assert "is published with its decision" in proposed.stderr
    assert decided.exit_code == 69, decided.output
    assert "neither published nor journaled" in decided.output
    assert not events_of(h1.project, "decision") and not refusals(h1)
    assert decide(monkeypatch, h1, pro, team).exit_code == 0  # reached again


def test_a_published_row_that_holds_no_fleet_payload_is_refused_once(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fleet_db: FleetDb,
    hosts: tuple[Host, Host, Host],
    team: Team,
) -> None:
    h1, h2, _ = hosts
    released(monkeypatch, tmp_path, h1, team)
    fleet_db.execute(
        "INSERT INTO sealguard.decisions (decision_id, project, proposal_id, payload, signatures)"
        " SELECT 'DEC_20990101_000000_0000000a', project, proposal_id, %s, signatures"
        " FROM sealguard.decisions",
        (b'{"domain":"sealguard-decision/1"}\n',),
    )
    pulled_twice(monkeypatch, h2)
    assert [(e["fleet_id"], e["reason_code"]) for e in refusals(h2)] == [
        ("DEC_20990101_000000_0000000a", "payload")
    ]
    assert len(events_of(h2.project, "decision")) == 1  # the real one, taken


def test_the_published_tables_refuse_changes_and_observers_write_only_through_functions(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fleet_db: FleetDb,
    hosts: tuple[Host, Host, Host],
    team: Team,
) -> None:
    h1, _, _ = hosts
    pro = released(monkeypatch, tmp_path, h1, team)
    for table in ("proposals", "proposal_files", "decisions"):
        for statement in (f"UPDATE sealguard.{table} SET proposal_id = proposal_id",
                          f"DELETE FROM sealguard.{table} WHERE false",
                          f"TRUNCATE sealguard.{table} CASCADE"):  # fmt: skip
            with (
                psycopg.connect(fleet_db.admin) as conn,
                pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
            ):
                conn.execute(statement.encode())  # the owner too, triggers on
    with psycopg.connect(fleet_db.url) as conn:  # PGPORT, PGPASSWORD from the fixture
        assert conn.execute("SELECT count(*) FROM sealguard.decisions").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO sealguard.decisions (decision_id, project, proposal_id, payload,"
                " signatures) VALUES ('x', 'calc', %s, '', '{}')",
                (pro,),
            )


def test_a_stopped_host_installs_the_decision_at_once_then_certifies_as_with_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hosts: tuple[Host, Host, Host], team: Team
) -> None:
    h1, h2, _ = hosts
    (h2.project.root / "data" / "value.txt").write_text("43\n")
    assert on(monkeypatch, h2, "observe").exit_code == 2  # PRODUCT_DRIFT: FROZEN
    released(monkeypatch, tmp_path, h1, team)
    refused = on(monkeypatch, h2, "observe")  # takes it, installs v2; the build is not yet
    assert refused.exit_code == 4, refused.output
    state = state_of(h2.project)
    assert state.version == 2 and state.awaiting is not None and state.mode == "FROZEN"
    deploy(tmp_path / "staging", h2)
    (h2.project.root / "data" / "value.txt").write_text("42\n")
    certified = on(monkeypatch, h2, "certify")
    assert certified.exit_code == 0, certified.output
    assert state_of(h2.project).mode == "OBSERVING"
    assert on(monkeypatch, h2, "verify").exit_code == 0
