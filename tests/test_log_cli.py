"""The `sealguard log` commands, and the log and runtime checks inside `sealguard verify`."""

import json
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from sealguard.cli import cli
from sealguard.errors import IntegrityError
from sealguard.ledger import Ledger, append, auditor, read_events
from sealguard.ledger.canonical import encode_event
from sealguard.ledger.note import split_history
from sealguard.runtime import record_files

from .cli_run import run_cli
from .conftest import MakeTree
from .ledger_helpers import audit, audit_both_ways, lines_of, probe_project, real_audit, resign


@pytest.fixture(autouse=True)
def _fast_and_full_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every audit these tests run in-process (`verify`, `log verify`, `observe`) is run in both
    modes and must give one report: the fast `log verify` misses none of these tamper cases."""
    audit_both_ways(monkeypatch)


def _sealed(make_project: MakeTree, invoke, **kw: str):  # type: ignore[no-untyped-def]
    project = make_project(**kw)
    assert invoke("--project", str(project.root), "seal").exit_code == 0
    return project


def test_log_verify_text_and_json(make_project: MakeTree, invoke) -> None:
    project = _sealed(make_project, invoke)
    result = invoke("--project", str(project.root), "log", "verify")
    assert result.exit_code == 0 and result.output.startswith("INTACT: 1 lines, tree root ")
    lines = project.log_file.read_bytes()
    project.log_file.write_bytes(lines.replace(b'"files":4', b'"files":5'))
    result = invoke("--project", str(project.root), "log", "verify", "--json")
    data = json.loads(result.output)
    assert result.exit_code == 3 and data["intact"] is False
    assert data["first_problem"]["kind"] == "FORK" and data["first_problem"]["line"] == 1


def test_log_verify_before_any_log_is_a_usage_error(make_project: MakeTree, invoke) -> None:
    project = make_project()
    result = invoke("--project", str(project.root), "log", "verify")
    assert result.exit_code == 64 and "`log verify` needs a sealed project" in result.stderr


def test_log_show_filters(make_project: MakeTree, invoke) -> None:
    project = _sealed(make_project, invoke)
    ledger = Ledger.in_folder(project.runtime)
    append(ledger, "note", {"text": "hello"})
    result = invoke("--project", str(project.root), "log", "show", "--type", "note")
    assert result.exit_code == 0
    assert result.output.strip().endswith("note text=hello")
    assert result.output.count("\n") == 1
    result = invoke(
        "--project", str(project.root), "log", "show", "--since", "2999-01-01", "--json"
    )
    assert json.loads(result.output) == []
    result = invoke("--project", str(project.root), "log", "show", "--json")
    assert [e["type"] for e in json.loads(result.output)] == ["baseline_sealed", "note"]


def test_export_holds_what_an_auditor_needs(make_project: MakeTree, invoke, tmp_path: Path) -> None:
    project = _sealed(make_project, invoke)
    target = tmp_path / "export.tar.gz"
    result = invoke("--project", str(project.root), "log", "export", "-o", str(target))
    assert result.exit_code == 0
    with tarfile.open(target) as archive:
        names = archive.getnames()
        archive.extractall(tmp_path / "out", filter="data")
    assert names == [
        "GOVERNANCE_LOG.ndjson",
        "checkpoint",
        "checkpoint.history",
        "log.vkey",
        "README.txt",
        "verify.py",
        "DECISIONS.txt",
    ]
    assert "sealguard log verify --dir ." in (tmp_path / "out/README.txt").read_text()
    vkey = (tmp_path / "out/log.vkey").read_text().strip()
    assert vkey.startswith("sealguard.local/log/")
    result = invoke("log", "verify", "--dir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output


def test_verify_reports_a_broken_log_as_inv_d_03(make_project: MakeTree, invoke) -> None:
    project = _sealed(make_project, invoke)
    with project.log_file.open("ab") as stream:
        stream.write(b'{"seq":1,"ts":"x","type":"forged"}\n')
    Path(project.runtime / ".ledger-state.json").unlink()
    result = invoke("--project", str(project.root), "verify", "--json")
    data = json.loads(result.output)
    assert result.exit_code == 3
    assert {d["invariant"] for d in data["differences"]} == {"INV-D-03"}


def test_runtime_area_inv_d_04(make_project: MakeTree, invoke) -> None:
    project = _sealed(make_project, invoke)
    ledger = Ledger.in_folder(project.runtime)
    record_files(
        ledger, {project.runtime / "events/a.json": b"{}", project.runtime / "events/b.json": b"[]"}
    )
    assert invoke("--project", str(project.root), "verify").exit_code == 0
    (project.runtime / "events/a.json").write_bytes(b'{"edited":true}')
    (project.runtime / "events/b.json").unlink()
    (project.runtime / "stray.txt").write_text("dropped here by someone")
    result = invoke("--project", str(project.root), "verify", "--json")
    found = {
        (d["change"], d["path"], d["invariant"]) for d in json.loads(result.output)["differences"]
    }
    assert found == {
        ("modified", "governance/runtime/events/a.json", "INV-D-04"),
        ("removed", "governance/runtime/events/b.json", "INV-D-04"),
        ("added", "governance/runtime/stray.txt", "INV-D-04"),
    }


def test_configured_witness_is_checked_by_verify(
    make_project: MakeTree, invoke, tmp_path: Path
) -> None:
    witness = tmp_path / "witness"
    config = f'[seal]\npaths = ["src/**"]\nfiles_only = true\n[ledger]\nwitness = "{witness}"\n'
    project = _sealed(make_project, invoke, config=config)
    assert invoke("--project", str(project.root), "verify").exit_code == 0
    shutil.rmtree(witness / "logs")  # the witness lost its records (or another folder is named)
    result = invoke("--project", str(project.root), "verify")
    assert result.exit_code == 3 and "the witness holds no record of log" in result.output


def test_an_export_of_a_log_resigned_with_the_stolen_key_fails_against_its_witness(
    make_project: MakeTree, invoke, tmp_path: Path
) -> None:
    witness = tmp_path / "witness"
    config = f'[seal]\npaths = ["src/**"]\nfiles_only = true\n[ledger]\nwitness = "{witness}"\n'
    project = _sealed(make_project, invoke, config=config)
    ledger = Ledger.in_folder(project.runtime, witness=witness)
    for i in range(4):
        append(ledger, "note", {"i": i})
    # the last two events gone, the line naming the witness too, every checkpoint re-signed
    events = [json.loads(line) for line in lines_of(ledger)]
    events[1]["log_key"] = events[0]["log_key"]
    kept = [{**event, "seq": seq} for seq, event in enumerate(events[1:-2])]
    resign(ledger, [encode_event(event) for event in kept])
    assert audit(Ledger.in_folder(project.runtime)).intact  # nothing local shows it
    target = tmp_path / "export.tar.gz"
    assert invoke("--project", str(project.root), "log", "export", "-o", str(target)).exit_code == 0
    with tarfile.open(target) as archive:
        archive.extractall(tmp_path / "out", filter="data")
    result = invoke("log", "verify", "--dir", str(tmp_path / "out"))
    assert result.exit_code == 3 and "witness" in result.output, result.output


def _observed(tmp_path: Path, invoke, observations: int):  # type: ignore[no-untyped-def]
    project = probe_project(tmp_path, None)
    assert invoke("--project", str(project.root), "seal").exit_code == 0
    for _ in range(observations):
        assert invoke("--project", str(project.root), "observe").exit_code == 0
    return project


def test_an_older_checkpoint_is_a_rollback_for_verify_and_observe_alike(
    tmp_path: Path, invoke
) -> None:
    project = _observed(tmp_path, invoke, 2)
    history = split_history((project.runtime / "checkpoint.history").read_text())
    (project.runtime / "checkpoint").write_text(history[-3])
    logged = invoke("--project", str(project.root), "log", "verify", "--json")
    assert logged.exit_code == 3
    assert [p["kind"] for p in json.loads(logged.output)["problems"]] == ["ROLLBACK"]
    verified = invoke("--project", str(project.root), "verify")
    assert (
        verified.exit_code == 3 and "not the newest note of checkpoint.history" in verified.output
    )
    observed = invoke("--project", str(project.root), "observe", "--json")
    assert observed.exit_code == 3, observed.output
    assert json.loads(observed.output)["classification"] == "INCIDENT"
    journaled = [e for e in read_events(project.log_file) if e["type"] == "runtime_event"][-1]
    assert journaled["classification"] == "INCIDENT"
    assert "rolled back" in journaled["invariants_before"][0]["detail"]


@pytest.mark.parametrize("name", ["GOVERNANCE_LOG.ndjson", "checkpoint", "checkpoint.history"])
def test_a_ledger_file_replaced_by_a_symlink_is_an_incident(
    make_project: MakeTree, invoke, tmp_path: Path, name: str
) -> None:
    project = _sealed(make_project, invoke)
    real = project.runtime / name
    elsewhere = tmp_path / "elsewhere" / name
    elsewhere.parent.mkdir()
    shutil.copyfile(real, elsewhere)  # the same bytes: following the link would see no change
    real.unlink()
    real.symlink_to(elsewhere)
    reason = f"governance/runtime/{name} is a symlink"
    logged = invoke("--project", str(project.root), "log", "verify")
    assert logged.exit_code == 3 and reason in logged.output, logged.output
    verified = invoke("--project", str(project.root), "verify")
    assert verified.exit_code == 3 and reason in verified.output + verified.stderr
    with pytest.raises(IntegrityError, match=f"{name} is a symlink"):
        append(Ledger.in_folder(project.runtime), "note", {})
    observed = invoke("--project", str(project.root), "observe")
    assert observed.exit_code == 3 and reason in observed.output + observed.stderr
    assert elsewhere.read_bytes() == real.read_bytes()  # nothing was written through the link


NOT_A_FILE: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo": (os.mkfifo, "is a named pipe (FIFO), not a regular file"),
    "folder": (os.mkdir, "is a folder, not a regular file"),
}


@pytest.mark.parametrize("name", ["GOVERNANCE_LOG.ndjson", "checkpoint", "checkpoint.history"])
@pytest.mark.parametrize("kind", NOT_A_FILE)
def test_log_verify_dir_refuses_what_is_not_a_regular_file(
    make_project: MakeTree, invoke, tmp_path: Path, name: str, kind: str
) -> None:
    project = _sealed(make_project, invoke)
    copy = tmp_path / "copy"
    copy.mkdir()
    for part in ("GOVERNANCE_LOG.ndjson", "checkpoint", "checkpoint.history"):
        shutil.copy(project.runtime / part, copy / part)
    (copy / name).unlink()
    make, problem = NOT_A_FILE[kind]
    make(copy / name)
    found = run_cli("log", "verify", "--dir", str(copy), may_block=kind == "fifo")
    assert found == (65, "", f"sealguard: {copy / name}: {problem}\n")


@pytest.mark.parametrize("kind", NOT_A_FILE)
def test_check_proof_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    make, problem = NOT_A_FILE[kind]
    make(tmp_path / "proof.json")
    found = run_cli("log", "check-proof", str(tmp_path / "proof.json"), may_block=kind == "fifo")
    assert found == (65, "", f"sealguard: {tmp_path / 'proof.json'}: {problem}\n")


def test_check_proof_refuses_a_device() -> None:
    found = run_cli("log", "check-proof", os.devnull, may_block=True)
    assert found == (65, "", f"sealguard: {os.devnull}: is a device, not a regular file\n")


def test_check_proof_of_deeply_nested_json_is_a_data_error(invoke, tmp_path: Path) -> None:
    bundle = tmp_path / "proof.json"
    bundle.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    result = invoke("log", "check-proof", str(bundle))
    assert (result.exit_code, result.stdout) == (65, "")
    assert result.stderr == f"sealguard: {bundle}: not a JSON proof bundle (nested too deeply)\n"


def test_check_proof_still_reads_stdin(make_project: MakeTree, invoke) -> None:
    project = _sealed(make_project, invoke)
    bundle = invoke("--project", str(project.root), "log", "prove", "0").output
    result = CliRunner().invoke(cli, ["log", "check-proof", "-"], input=bundle)
    assert result.exit_code == 0 and result.output.startswith("VALID: event seq 0")


@pytest.mark.parametrize("depth", [900, 100_000])
def test_log_verify_dir_of_a_deeply_nested_line_names_it(
    make_project: MakeTree, invoke, tmp_path: Path, depth: int
) -> None:
    project = _sealed(make_project, invoke)
    copy = tmp_path / "copy"
    shutil.copytree(project.runtime, copy)
    with (copy / "GOVERNANCE_LOG.ndjson").open("a") as log:
        log.write('{"a":' + "[" * depth + "]" * depth + ',"seq":1,"ts":"x","type":"t"}\n')
    result = invoke("log", "verify", "--dir", str(copy), "--json")
    assert result.exit_code == 3, result.stderr
    problem = json.loads(result.stdout)["first_problem"]
    assert (problem["kind"], problem["line"]) == ("LINE", 2)
    assert "nested too deeply" in problem["message"]


def test_log_verify_full_reads_again_the_lines_the_log_key_signed(
    make_project: MakeTree, invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default `log verify` trusts the lines a checkpoint the log key signed covers; a line
    sealguard's writer would never write, re-signed with a stolen key, passes it and fails
    `--full` (README: what each mode proves)."""
    monkeypatch.setattr(auditor, "audit", real_audit)  # the one case where the two differ
    project = _sealed(make_project, invoke)
    ledger = Ledger.in_folder(project.runtime)
    append(ledger, "note", {"i": 1})
    lines = lines_of(ledger)
    lines[1] = json.dumps(json.loads(lines[1])).encode()  # valid JSON, not canonical
    resign(ledger, lines)
    at = ("--project", str(project.root), "log", "verify")
    assert invoke(*at).exit_code == 0
    result = invoke(*at, "--full")
    assert result.exit_code == 3
    assert "LINE: line 2: not canonical RFC 8785 JSON" in result.output
