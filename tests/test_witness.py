"""The witness: an anchor outside the project that only accepts consistent extensions (C2SP).

Each attack is done for real on a sealed project with a fast probe (`cat data/value.txt`): the
attacker may write anything in the project, never the witness's folder.
"""

import json
import shutil
from pathlib import Path

from click.testing import Result

from sealguard.ledger.keys import create_key, origin_for, public_bytes
from sealguard.ledger.merkle import CompactRange, leaf_hash
from sealguard.ledger.note import sign, split_history, verifier_key
from sealguard.project import Project

from .conftest import write_tree
from .ledger_helpers import probe_project, restore, runtime_files, witnessed_config


def _run(invoke, project: Project, *args: str) -> Result:  # type: ignore[no-untyped-def]
    return invoke("--project", str(project.root), *args)  # type: ignore[no-any-return]


def _sealed(tmp_path: Path, invoke, witness: Path | None) -> Project:  # type: ignore[no-untyped-def]
    project = probe_project(tmp_path, witness)
    assert _run(invoke, project, "seal").exit_code == 0
    return project


def _frozen(tmp_path: Path, invoke, witness: Path | None):  # type: ignore[no-untyped-def]
    """A project observed STABLE (its runtime files saved), then frozen by a drift."""
    project = _sealed(tmp_path, invoke, witness)
    assert _run(invoke, project, "observe").exit_code == 0
    saved = runtime_files(project.runtime)
    (project.root / "data/value.txt").write_text("2\n")
    assert _run(invoke, project, "observe").exit_code == 2
    assert json.loads(_run(invoke, project, "status", "--json").output)["state"] == "FROZEN"
    return project, saved


def _observe_json(invoke, project: Project) -> tuple[int, dict]:  # type: ignore[no-untyped-def, type-arg]
    result = _run(invoke, project, "observe", "--json")
    return result.exit_code, json.loads(result.output)


def test_cutting_the_log_back_undoes_a_freeze_unseen_without_a_witness(
    tmp_path: Path, invoke
) -> None:
    """The limit the README states: with no witness, nothing outside the project remembers."""
    project, saved = _frozen(tmp_path, invoke, None)
    restore(project.runtime, saved)
    assert json.loads(_run(invoke, project, "status", "--json").output)["state"] == "OBSERVING"
    assert _run(invoke, project, "verify").exit_code == 0


def test_cutting_the_log_back_is_an_incident_against_the_witness(tmp_path: Path, invoke) -> None:
    witness = tmp_path / "witness"
    project, saved = _frozen(tmp_path, invoke, witness)
    restore(project.runtime, saved)  # log, history, checkpoint, cache and files as they were
    verified = _run(invoke, project, "verify")
    assert verified.exit_code == 3
    assert "cut back" in verified.output
    logged = _run(invoke, project, "log", "verify")
    assert logged.exit_code == 3 and "witness" in logged.output
    code, event = _observe_json(invoke, project)
    assert code == 3 and event["classification"] == "INCIDENT"
    assert any("witness" in v["detail"] for v in event["invariants_before"])
    checked = invoke("witness", "check", "--dir", str(witness))
    assert checked.exit_code == 3 and str(project.runtime) in checked.output


def test_wipe_and_reseal_without_the_witness_line_is_caught_by_witness_check(
    tmp_path: Path, invoke
) -> None:
    witness = tmp_path / "witness"
    project = _sealed(tmp_path, invoke, witness)
    assert _run(invoke, project, "observe").exit_code == 0
    assert invoke("witness", "check", "--dir", str(witness)).exit_code == 0
    # the attacker: delete the witness line, wipe governance/, hot-fix a file, seal again
    shutil.rmtree(project.governance)
    write_tree(project.root, {"governance/sealguard.toml": witnessed_config(None)})
    (project.root / "src/app.py").write_text("print('hot fix')\n")
    assert _run(invoke, project, "seal").exit_code == 0
    assert _run(invoke, project, "verify").exit_code == 0  # nothing in the project remembers
    checked = invoke("witness", "check", "--dir", str(witness))
    assert checked.exit_code == 3
    line = next(x for x in checked.output.splitlines() if str(project.runtime) in x)
    assert "re-sealed or re-keyed" in line


def test_wipe_and_reseal_with_the_witness_line_is_refused_by_the_witness(
    tmp_path: Path, invoke
) -> None:
    witness = tmp_path / "witness"
    project = _sealed(tmp_path, invoke, witness)
    shutil.rmtree(project.governance)
    write_tree(project.root, {"governance/sealguard.toml": witnessed_config(witness)})
    sealed = _run(invoke, project, "seal")
    assert sealed.exit_code == 0  # the new log is written: evidence is never dropped
    verified = _run(invoke, project, "verify")
    assert verified.exit_code == 3 and "re-sealed or re-keyed" in verified.output
    code, event = _observe_json(invoke, project)
    assert code == 3 and event["classification"] == "INCIDENT"


def _rekey(project: Project) -> None:
    """With write access only: a new key, line 1 naming it, every checkpoint re-signed."""
    runtime = project.runtime
    lines = (runtime / "GOVERNANCE_LOG.ndjson").read_bytes().split(b"\n")[:-1]
    key_file = runtime / "keys/log_ed25519.pem"
    key_file.unlink()
    key = create_key(key_file)
    public = public_bytes(key)
    origin = origin_for(public)
    first = json.loads(lines[0])
    first["log_key"] = {
        "algorithm": "Ed25519",
        "origin": origin,
        "verifier_key": verifier_key(origin, public),
    }
    from sealguard.ledger.canonical import encode_event

    lines[0] = encode_event(first)
    tree = CompactRange()
    notes = []
    for line in lines:
        tree.push(leaf_hash(line))
        notes.append(sign(origin, tree.size, tree.root(), origin, key).note())
    (runtime / "GOVERNANCE_LOG.ndjson").write_bytes(b"".join(x + b"\n" for x in lines))
    (runtime / "checkpoint.history").write_text("".join(n + "\n" for n in notes))
    (runtime / "checkpoint").write_text(notes[-1])
    (runtime / ".ledger-state.json").unlink(missing_ok=True)
    (runtime / ".ledger-pending").unlink(missing_ok=True)


def test_a_rekeyed_log_is_an_incident(tmp_path: Path, invoke) -> None:
    witness = tmp_path / "witness"
    project = _sealed(tmp_path, invoke, witness)
    assert _run(invoke, project, "observe").exit_code == 0
    _rekey(project)
    verified = _run(invoke, project, "log", "verify")
    assert verified.exit_code == 3 and "re-keyed" in verified.output
    checked = invoke("witness", "check", "--dir", str(witness))
    assert checked.exit_code == 3 and "re-keyed" in checked.output
    code, event = _observe_json(invoke, project)
    assert code == 3 and event["classification"] == "INCIDENT"


def test_removing_the_witness_from_the_config_is_an_incident(tmp_path: Path, invoke) -> None:
    witness = tmp_path / "witness"
    project = _sealed(tmp_path, invoke, witness)
    project.config_file.write_text(witnessed_config(None))
    result = _run(invoke, project, "log", "verify")
    assert result.exit_code == 3
    assert "the log says a witness keeps this log, but none is configured" in result.output


def test_a_forked_history_is_refused_by_the_witness_and_still_written_locally(
    tmp_path: Path, invoke
) -> None:
    witness = tmp_path / "witness"
    project, saved = _frozen(tmp_path, invoke, witness)
    restore(project.runtime, saved)
    before = len(split_history((project.runtime / "checkpoint.history").read_text()))
    code, _event = _observe_json(invoke, project)  # appends on a history the witness never saw
    assert code == 3
    after = split_history((project.runtime / "checkpoint.history").read_text())
    assert len(after) > before  # the INCIDENT is journaled locally all the same
    checked = invoke("witness", "check", "--dir", str(witness))
    assert checked.exit_code == 3
