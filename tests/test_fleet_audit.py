"""`sealguard log verify --url` and `fleet verify`: the fleet database's logs checked from their
rows, against a real PostgreSQL; a superuser's edits are found and named."""

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.errors import EvidenceWriteError, FleetError
from sealguard.fleet import entries, verification
from sealguard.fleet.audit import Facts, check_rows, judge
from sealguard.fleet.database import connect
from sealguard.fleet.entries import Bounds, CheckpointRow, LogRow
from sealguard.fleet.urls import shown
from sealguard.ledger import Ledger, append, read_events
from sealguard.ledger.canonical import encode_event
from sealguard.ledger.merkle import leaf_hash
from sealguard.ledger.note import parse, sign, split_history

from .conftest import MakeTree
from .fleet_logs import acts, installed, tree_of
from .ledger_helpers import cut_writes_to, lines_of
from .shipped_logs import ShippedLog, rewrite_history, shipped_log, submit

if TYPE_CHECKING:
    from .postgres import PgDatabase

Invoke = Callable[..., Result]


def verify(invoke: Invoke, log: ShippedLog, *extra: str) -> Result:
    return invoke("log", "verify", "--url", log.url, "--origin", log.origin, *extra)


def test_an_intact_log_verifies_from_the_database(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    log = shipped_log(pg_database, tmp_path / "rt", 6)
    result = verify(invoke, log)
    assert result.exit_code == 0, result.output
    root = base64.b64encode(tree_of(log.lines).root()).decode()
    assert result.output == (
        f"INTACT: log {log.origin} (calc on h1) in {shown(pg_database.admin_url)}: "
        f"6 lines, tree root {root}; 6 accepted checkpoints hold (the latest covers 6 lines)\n"
    )
    data = json.loads(verify(invoke, log, "--json").output)
    assert data["intact"] is True and data["lines"] == 6 and data["root"] == root


def test_a_line_a_superuser_edited_is_named(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    log = shipped_log(pg_database, tmp_path / "rt", 6)
    origin = log.origin
    line = log.lines[3].replace(b'"n":3', b'"n":7')
    log.edit("UPDATE sealguard.entries SET line = %s WHERE origin = %s AND seq = 3", line, origin)
    result = verify(invoke, log)
    assert result.exit_code == 3
    fork = f"  FORK {origin} line 4: the checkpoint accepted at {{}} lines: the database's first "
    assert result.output.splitlines() == [
        f"INCIDENT: log {origin} (calc on h1) in {shown(pg_database.admin_url)} is not intact "
        "(INV-D-03): 5 problem(s)",
        f"  LEAF {origin}: line 4: the stored leaf is not SHA-256(0x00 || line): the line or its "
        "leaf was edited in the database",
        fork.format(4) + "4 lines have another root than this checkpoint (line 4 altered)",
        fork.format(5) + "5 lines have another root than this checkpoint (lines 4-5 altered)",
        fork.format(6) + "6 lines have another root than this checkpoint (lines 4-6 altered)",
        f"  SIZE {origin}: logs.frontier is not the tree of the lines",
    ]


def test_a_line_and_its_leaf_edited_together_are_named(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    log = shipped_log(pg_database, tmp_path / "rt", 6)
    line = log.lines[3].replace(b'"n":3', b'"n":7')
    log.edit(
        "UPDATE sealguard.entries SET line = %s, leaf = %s WHERE origin = %s AND seq = 3",
        line, leaf_hash(line), log.origin,
    )  # fmt: skip
    result = verify(invoke, log, "--json")
    assert result.exit_code == 3
    first = json.loads(result.output)["first_problem"]
    assert first["kind"] == "FORK" and first["line"] == 4
    assert first["message"].endswith("(line 4 altered)")
    assert "LEAF" not in result.output  # the leaf matches: only the signed roots show it


def test_a_deleted_row_and_a_size_set_back_are_found(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    log = shipped_log(pg_database, tmp_path / "rt", 6)
    origin = log.origin
    log.edit("DELETE FROM sealguard.entries WHERE origin = %s AND seq = 2", origin)
    log.edit("UPDATE sealguard.logs SET size = 9 WHERE origin = %s", origin)
    result = verify(invoke, log)
    assert result.exit_code == 3
    assert f"  SEQ {origin}: line 3 (seq 2) missing: the database's lines are not gap-free\n" in (
        result.output
    )
    assert f"  SIZE {origin}: logs.size says 9 lines, the entries hold 6\n" in result.output


def test_a_frontier_edited_is_found(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    log = shipped_log(pg_database, tmp_path / "rt", 3)
    log.edit("UPDATE sealguard.logs SET frontier = frontier[1:1] WHERE origin = %s", log.origin)
    result = verify(invoke, log)
    assert result.exit_code == 3
    assert f"  SIZE {log.origin}: logs.frontier is not the tree of the lines\n" in result.output


def test_lines_no_checkpoint_covers_are_unsigned(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    log = shipped_log(pg_database, tmp_path / "rt", 3)
    extra = encode_event({"seq": 3, "ts": "2026-11-27T00:00:00Z", "type": "test_event"})
    with pg_database.connect() as conn:  # an observer's role may call append without a note
        assert submit(conn, log.origin, 3, [extra]) == 200
    result = verify(invoke, log)
    assert result.exit_code == 3
    assert result.output.splitlines()[1:] == [
        f"  UNSIGNED {log.origin}: line 4 follows the last accepted checkpoint: no checkpoint "
        "signed by the log key covers it"
    ]


def test_a_refused_history_since_the_last_acceptance_is_reported(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    log = shipped_log(pg_database, tmp_path / "rt", 3)
    with pg_database.connect() as conn:
        rewrite_history(conn, log.ledger)
    result = verify(invoke, log)
    assert result.exit_code == 3
    (problem,) = result.output.splitlines()[1:]
    assert problem.startswith(f"  REFUSED {log.origin}: refused a submission at 20")
    assert problem.endswith("line 2 is not the line the database holds: the history was rewritten")
    acts(log.ledger, 1)  # accepted since: the refusal is history
    assert verify(invoke, log).exit_code == 0


def test_checkpoints_the_log_key_did_not_sign_or_that_lie_about_their_row(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    log = shipped_log(pg_database, tmp_path / "rt", 4)
    origin = log.origin
    forged = sign(origin, 2, tree_of(log.lines[:2]).root(), origin, Ed25519PrivateKey.generate())
    honest = split_history(log.ledger.history.read_text())[0]  # the note at 1 line
    for note, size in ((forged.note(), 2), (honest, 3)):
        log.edit(
            "UPDATE sealguard.checkpoints SET note = %s WHERE origin = %s AND size = %s",
            note, origin, size,
        )  # fmt: skip
    result = verify(invoke, log)
    assert result.exit_code == 3
    assert result.output.splitlines()[1:] == [
        f"  SIGNATURE {origin}: the checkpoint accepted at 2 lines: not signed by the enrolled "
        "log key",
        f"  CHECKPOINT {origin}: the checkpoint accepted at 3 lines: its note says {origin} at "
        f"1 lines, root {base64.b64encode(parse(honest).root).decode()}: not the row's origin, "
        "size and root",
    ]


def test_the_enrolled_key_must_be_the_one_line_1_names(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    log = shipped_log(pg_database, tmp_path / "rt", 2)
    origin = log.origin
    other = shipped_log(pg_database, tmp_path / "other", 1, host="h2").origin
    with pg_database.connect() as conn:
        key = conn.execute("SELECT log_key FROM sealguard.logs WHERE origin = %s", (other,))
        other_key = key.fetchone()[0]  # type: ignore[index]
    log.edit("UPDATE sealguard.logs SET log_key = %s WHERE origin = %s", other_key, origin)
    output = verify(invoke, log).output
    assert f"  KEY {origin}: line 1: does not name the log key the database enrolled\n" in output
    assert f"  KEY {origin}: the enrolled log key is named {other}, not the origin\n" in output
    assert f"  SIGNATURE {origin}: the checkpoint accepted at 1 lines: not signed" in output


def _torn(log: ShippedLog, after: int, monkeypatch: pytest.MonkeyPatch) -> ShippedLog:
    """`log` and a torn fragment that the next of `after` more lines accounts for."""
    with monkeypatch.context() as patch:
        cut_writes_to(20, patch)
        with pytest.raises(EvidenceWriteError):
            append(log.ledger, "doomed", {})
    acts(log.ledger, after)
    return log


@pytest.mark.parametrize("forked", [False, True])
def test_torn_fragments_are_accounted_for_at_their_offsets(
    forked: bool,
    tmp_path: Path,
    pg_database: "PgDatabase",
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = _torn(shipped_log(pg_database, tmp_path / "rt", 3), 4, monkeypatch)
    origin = log.origin
    assert [e["type"] for e in read_events(log.ledger.log)][3:5] == ["torn_tail", "test_event"]
    if forked:  # the fragment (line 4) ends the second range, the torn_tail event that
        # accounts for it (line 5) begins the third
        cut = [(0, 2), (2, 4), (4, 9)]
        monkeypatch.setattr(verification, "spans", lambda lines, jobs: cut)
    jobs = "2" if forked else "1"
    result = verify(invoke, log, "-j", jobs)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == (
        "torn writes accounted for by torn_tail events: lines 4"
    )
    event = json.loads(log.lines[4])
    event["fragment"]["offset"] += 1
    log.edit(
        "UPDATE sealguard.entries SET line = %s WHERE origin = %s AND seq = 4",
        encode_event(event), origin,
    )  # fmt: skip
    result = verify(invoke, log, "-j", jobs)
    assert result.exit_code == 3
    assert (
        f"  LINE {origin}: line 4: not a JSON event, and no torn_tail event accounts for it\n"
        in result.output
    )


def test_fleet_verify_checks_every_log_one_line_each(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    good = shipped_log(pg_database, tmp_path / "a", 3, "calc", "h1").origin
    bad_log = shipped_log(pg_database, tmp_path / "b", 3, "calc", "h2")
    bad = bad_log.origin
    line = bad_log.lines[1].replace(b'"n":1', b'"n":5')
    bad_log.edit("UPDATE sealguard.entries SET line = %s WHERE origin = %s AND seq = 1", line, bad)
    result = invoke("fleet", "verify", "--url", bad_log.url)
    assert result.exit_code == 3
    assert result.output.splitlines() == [
        f"ok {good} (calc on h1): 3 lines, 3 accepted checkpoints hold",
        f"INCIDENT {bad} (calc on h2): 4 problem(s); first LEAF line 2: line 2: the stored leaf "
        "is not SHA-256(0x00 || line): the line or its leaf was edited in the database",
        f"{shown(pg_database.admin_url)}: 2 log(s), 1 intact, 1 not",
    ]


def test_fleet_verify_of_an_empty_database_and_from_a_project(
    make_project: MakeTree, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    url = installed(pg_database)
    result = invoke("fleet", "verify", "--url", url)
    assert result.exit_code == 0
    assert result.output == f"{shown(pg_database.admin_url)}: the fleet database keeps no log yet\n"
    project = make_project(
        config=f'[seal]\npaths = ["src/**"]\nfiles_only = true\n\n[ledger]\nurl = "{url}"\nhost = "h1"\n'
    )
    assert invoke("--project", str(project.root), "seal").exit_code == 0
    result = invoke("--project", str(project.root), "fleet", "verify")
    assert result.exit_code == 0 and result.output.startswith("ok sealguard.local/log/")
    assert " (project on h1): 1 lines" in result.output


def test_log_verify_in_a_project_reads_its_files_unless_given_url(
    make_project: MakeTree, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    url = installed(pg_database)
    config = (
        f'[seal]\npaths = ["src/**"]\nfiles_only = true\n\n[ledger]\nurl = "{url}"\nhost = "h1"\n'
    )
    project = make_project(config=config)
    assert invoke("--project", str(project.root), "seal").exit_code == 0
    files = invoke("--project", str(project.root), "log", "verify")
    assert files.exit_code == 0 and files.output.startswith("INTACT: 1 lines, tree root ")
    database = invoke("--project", str(project.root), "log", "verify", "--url", url)
    assert database.exit_code == 0
    assert database.output.startswith("INTACT: log sealguard.local/log/")
    named = invoke("--project", str(project.root), "log", "verify", "--url", url, "--host", "h1")
    assert named.output == database.output
    unknown = invoke("--project", str(project.root), "log", "verify", "--url", url, "--host", "h9")
    assert unknown.exit_code == 64
    assert unknown.stderr == (
        "sealguard: the fleet database keeps no log of project project on host h9\n"
    )


def test_which_log_must_be_named_outside_a_project(
    pg_database: "PgDatabase", invoke: Invoke
) -> None:
    url = installed(pg_database)
    result = invoke("log", "verify", "--url", url)
    assert result.exit_code == 64
    assert "name the log of the fleet database: --origin ORIGIN, or --host HOST" in result.stderr
    result = invoke("log", "verify", "--origin", "x")
    assert result.exit_code == 64 and "--origin, --host and --project-name name a log of --url" in (
        result.stderr
    )
    result = invoke("log", "verify", "--url", url, "--origin", "sealguard.local/log/none")
    assert result.exit_code == 64
    assert result.stderr == "sealguard: the fleet database keeps no log sealguard.local/log/none\n"


def test_an_unreachable_database_is_exit_69_in_one_line(invoke: Invoke) -> None:
    url = "postgresql://nobody@127.0.0.1:1/fleet"
    for args in (
        ("log", "verify", "--url", url, "--origin", "o"),
        ("fleet", "verify", "--url", url),
    ):
        result = invoke(*args)
        assert result.exit_code == 69
        assert result.stderr.startswith(
            "sealguard: postgresql://nobody@127.0.0.1:1/fleet: cannot connect ("
        )
        assert len(result.stderr.splitlines()) == 1


# ----- the checks alone, on rows made here ------------------------------------------------------


def _facts(ledger: Ledger, size: int | None = None) -> Facts:
    lines = lines_of(ledger)
    events = read_events(ledger.log)
    vkey = events[0]["log_key"]["verifier_key"]
    tree = tree_of(lines)
    notes = [parse(text) for text in split_history(ledger.history.read_text())]
    held = LogRow(
        events[0]["log_key"]["origin"], vkey, "calc", "h1", None, size or len(lines),
        tuple(tree.hashes),
    )  # fmt: skip
    rows = [CheckpointRow(cp.size, cp.root, cp.note(), None) for cp in notes]  # type: ignore[arg-type]
    return Facts(held, rows, [], Bounds(0, len(lines) - 1), lines[0])


def _rows(lines: list[bytes], first: int = 0) -> list[tuple[int, bytes, bytes]]:
    return [(first + k, line, leaf_hash(line)) for k, line in enumerate(lines)]


def test_the_checks_on_rows_given_in_ranges(tmp_path: Path) -> None:
    ledger = acts(Ledger.in_folder(tmp_path / "rt"), 5)
    lines = lines_of(ledger)
    facts = _facts(ledger)
    wanted = [c.size for c in facts.checkpoints]
    whole = judge(facts, [check_rows([_rows(lines)], 0, 5, wanted)])
    parts = judge(
        facts,
        [
            check_rows([_rows(lines[3:], 3)], 3, 5, wanted),
            check_rows([_rows(lines[:1]), _rows(lines[1:3], 1)], 0, 3, wanted),
        ],
    )
    assert whole == parts and whole.intact and whole.lines == 5 and whole.checkpoints == 5
    assert whole.root == tree_of(lines).root()


def test_a_line_holding_a_newline_is_named(tmp_path: Path) -> None:
    ledger = acts(Ledger.in_folder(tmp_path / "rt"), 3)
    lines = lines_of(ledger)
    lines[1] = lines[1] + b"\n"
    report = judge(_facts(ledger), [check_rows([_rows(lines)], 0, 3, [1, 2, 3])])
    assert [(p.kind, p.line) for p in report.problems][:2] == [("LINE", 2), ("LINE", 2)]
    assert report.problems[0].message == "line 2: holds a newline, which no log line can"


def test_rows_past_the_end_and_a_negative_seq(tmp_path: Path) -> None:
    ledger = acts(Ledger.in_folder(tmp_path / "rt"), 2)
    facts = replace(_facts(ledger), bounds=Bounds(-1, 1))
    report = judge(facts, [check_rows([_rows(lines_of(ledger))], 0, 2, [1, 2])])
    assert [p.message for p in report.problems] == ["an entry has the seq -1"]
    unusable = replace(facts, held=replace(facts.held, log_key="not a key"), bounds=Bounds(0, 1))
    report = judge(unusable, [check_rows([_rows(lines_of(ledger))], 0, 2, [1, 2])])
    assert [p.kind for p in report.problems] == ["KEY", "KEY"]
    assert report.problems[1].message.startswith("the enrolled log key 'not a key' is unusable")
    shorter = replace(facts, bounds=Bounds(0, 0))
    report = judge(shorter, [check_rows([_rows(lines_of(ledger)[:1])], 0, 1, [1, 2])])
    assert [p.kind for p in report.problems] == ["TRUNCATION", "SIZE"]


def test_ranges_read_in_process_join_as_one(
    tmp_path: Path, pg_database: "PgDatabase", monkeypatch: pytest.MonkeyPatch
) -> None:
    """What each forked worker does (forks are not measured), here in this process."""
    log = _torn(shipped_log(pg_database, tmp_path / "rt", 3), 4, monkeypatch)
    url, origin = log.url, log.origin
    with connect(url) as conn:
        snapshot = entries.begin_snapshot(conn)
        seen = verification.facts(conn, origin)
        wanted = [c.size for c in seen.checkpoints]
        work = verification._worker(url, snapshot, origin, wanted, 9)
        ranges = [work(span) for span in [(0, 2), (2, 4), (4, 9)]]
        failed = verification._worker("postgresql://nobody@127.0.0.1:1/x", snapshot, origin, [], 9)
        assert isinstance(failed((0, 9)), FleetError)
        whole = judge(seen, [verification.read_range(conn, origin, (0, 9), wanted, 9)])
    report = judge(seen, ranges)  # type: ignore[arg-type]
    assert report.intact and report.torn_tails == [4] and report.lines == 9
    assert whole == report


def test_spans_give_each_worker_two_ranges() -> None:
    assert verification.spans(10, 4) == [(0, 10)]  # fewer lines than PARALLEL_FROM
    assert verification.spans(200_000, 1) == [(0, 200_000)]
    assert verification.spans(200_000, 2) == [
        (0, 50_000), (50_000, 100_000), (100_000, 150_000), (150_000, 200_000)
    ]  # fmt: skip


def test_rows_missing_at_a_range_end_and_unreadable_notes(tmp_path: Path) -> None:
    ledger = acts(Ledger.in_folder(tmp_path / "rt"), 4)
    lines = lines_of(ledger)
    facts = _facts(ledger)
    facts.checkpoints[1] = replace(facts.checkpoints[1], note="not a note")
    ranges = [
        check_rows([_rows(lines[:1])], 0, 2, [1, 2]),
        check_rows([_rows(lines[2:], 2)], 2, 4, [3, 4]),
    ]
    report = judge(replace(facts, first_line=b"{not json"), ranges)
    assert [(p.kind, p.line) for p in report.problems] == [
        ("KEY", 1), ("SEQ", 2), ("CHECKPOINT", None)
    ]  # fmt: skip
    assert report.problems[1].message == (
        "line 2 (seq 1) missing: the database's lines are not gap-free"
    )
    assert report.problems[2].message.startswith(
        "the checkpoint accepted at 2 lines: unreadable note: "
    )
    assert report.root == b""  # not recomputed past the gap


def test_names_a_host_enrolled_cannot_forge_a_line(
    pg_database: "PgDatabase", invoke: Invoke
) -> None:
    url = installed(pg_database)
    with pg_database.connect() as conn:
        conn.execute(
            "SELECT sealguard.enrol('o', 'k', 'calc' || chr(10) || 'ok forged', 'h1', NULL)"
        )
    result = invoke("fleet", "verify", "--url", url)
    assert result.exit_code == 3
    assert result.output.splitlines()[0] == (
        "INCIDENT o (calc\\nok forged on h1): 1 problem(s); first KEY: the enrolled log key "
        "'k' is unusable (not a verifier key '<name>+<key id>+<base64 key>')"
    )
