"""The witness: an anchor outside the project that only accepts consistent extensions (C2SP).

Each attack is done for real on a sealed project with a fast probe (`cat data/value.txt`): the
attacker may write anything in the project, never the witness's folder.
"""

import base64
import hashlib
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sealguard.errors import EvidenceWriteError, IntegrityError
from sealguard.ledger import Ledger, append, read_events
from sealguard.ledger.canonical import encode_event
from sealguard.ledger.keys import create_key, load_key, origin_for, public_bytes
from sealguard.ledger.merkle import CompactRange, consistency_proof, leaf_hash, subtree_root
from sealguard.ledger.note import parse, sign, split_history, verifier_key
from sealguard.ledger.witness import FolderWitness, Refusal, log_id
from sealguard.project import Project
from sealguard.seal.settings import config_in_force

from .conftest import write_tree
from .ledger_helpers import (
    audit,
    audit_both_ways,
    lines_of,
    make_log,
    probe_project,
    restore,
    runtime_files,
    witnessed_config,
)


@pytest.fixture(autouse=True)
def _fast_and_full_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every audit these tests run in-process (`verify`, `log verify`, `observe`) is run in both
    modes and must give one report: the fast `log verify` misses none of these tamper cases."""
    audit_both_ways(monkeypatch)


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
    # the file is not the config in force (the sealed text is): the edit is INV-D-01 ...
    result = _run(invoke, project, "verify")
    assert result.exit_code == 3 and "governance/sealguard.toml" in result.output
    # ... and the witness stays in force, so the log is still held against it
    assert config_in_force(project).ledger.witness is not None
    # a reader of the log without the witness (an old config, a bare Ledger) is told
    report = audit(Ledger.in_folder(project.runtime))
    assert any(
        "the log says a witness keeps this log, but none is configured" in p.message
        for p in report.problems
    )


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


# The witness's rules, one submission at a time (C2SP tlog-witness add-checkpoint).


def _log_of(tmp_path: Path, events: int) -> tuple[Ledger, list[bytes], str]:
    ledger = make_log(tmp_path / "rt", events)
    origin = parse(ledger.checkpoint.read_text()).origin
    return ledger, [leaf_hash(line) for line in lines_of(ledger)], origin


def _signed(ledger: Ledger, leaves: list[bytes], size: int) -> str:
    key = load_key(ledger.key_file)
    origin = origin_for(public_bytes(key))
    return sign(origin, size, subtree_root(leaves[:size]), origin, key).note()


def _proof(leaves: list[bytes], old: int, new: int) -> list[bytes]:
    return consistency_proof(old, new, lambda a, b: subtree_root(leaves[a:b]))


def _enrolled(tmp_path: Path, events: int = 8):  # type: ignore[no-untyped-def]
    ledger, leaves, origin = _log_of(tmp_path, events)
    witness = FolderWitness(tmp_path / "witness")
    witness.create()
    vkey = json.loads(lines_of(ledger)[0])["log_key"]["verifier_key"]
    assert witness.enrol(origin, vkey, str(ledger.folder)) is None
    return ledger, leaves, origin, witness


def test_a_consistent_extension_is_cosigned_in_the_c2sp_form(tmp_path: Path) -> None:
    ledger, leaves, origin, witness = _enrolled(tmp_path)
    assert isinstance(witness.add_checkpoint(0, [], _signed(ledger, leaves, 3)), str)
    answer = witness.add_checkpoint(3, _proof(leaves, 3, 8), _signed(ledger, leaves, 8))
    assert isinstance(answer, str) and answer.startswith("\u2014 sealguard.local/witness/")
    identity = witness.identity()
    assert identity is not None
    raw = base64.b64decode(answer.rstrip("\n").rsplit(" ", 1)[1])
    name = identity.name.encode()
    assert raw[:4] == hashlib.sha256(name + b"\n\x04" + identity.public).digest()[:4]
    (timestamp,) = struct.unpack(">Q", raw[4:12])
    body = parse(_signed(ledger, leaves, 8)).text
    message = f"cosignature/v1\ntime {timestamp}\n{body}".encode()
    Ed25519PublicKey.from_public_bytes(identity.public).verify(raw[12:], message)  # raises if bad
    record = witness.record(origin)
    assert record is not None and (record.size, record.accepted) == (8, 2)
    assert (
        len(split_history((witness.folder / "logs" / f"{log_id(origin)}.cosigned").read_text()))
        == 2
    )


def test_what_is_not_a_consistent_extension_is_refused_and_kept(tmp_path: Path) -> None:
    ledger, leaves, origin, witness = _enrolled(tmp_path)
    assert isinstance(witness.add_checkpoint(0, [], _signed(ledger, leaves, 6)), str)
    other = [*leaves[:4], leaf_hash(b"rewritten"), *leaves[5:]]
    intruder = create_key(tmp_path / "intruder.pem")
    forged = sign(origin, 8, subtree_root(leaves), origin, intruder).note()
    cases = [
        (6, [], _signed(ledger, leaves, 5), 400),  # smaller than what it cosigned
        (6, [], _signed(ledger, other, 6), 409),  # another root at the same size
        (6, _proof(other, 6, 8), _signed(ledger, other, 8), 422),  # no proof it extends
        (6, _proof(leaves, 6, 8)[:-1], _signed(ledger, leaves, 8), 422),  # a proof cut short
        (6, _proof(leaves, 6, 8), forged, 403),  # not the enrolled key
    ]
    for old, proof, text, status in cases:
        refusal = witness.add_checkpoint(old, proof, text)
        assert isinstance(refusal, Refusal) and refusal.status == status, (status, refusal)
    assert [r.status for r in witness.refusals(origin)] == [400, 409, 422, 422, 403]
    conflict = witness.add_checkpoint(3, _proof(leaves, 3, 8), _signed(ledger, leaves, 8))
    assert isinstance(conflict, Refusal) and (conflict.status, conflict.size) == (409, 6)
    unknown = witness.add_checkpoint(
        0, [], sign("elsewhere", 1, leaves[0], "elsewhere", intruder).note()
    )
    assert isinstance(unknown, Refusal) and unknown.status == 404
    assert len(witness.refusals(origin)) == 5  # a wrong old size is an answer, not evidence
    record = witness.record(origin)
    assert record is not None and record.size == 6  # nothing refused moved it


def test_enrolment_refuses_a_new_key_or_a_new_origin_for_a_kept_project(tmp_path: Path) -> None:
    ledger, _leaves, origin, witness = _enrolled(tmp_path)
    intruder = create_key(tmp_path / "intruder.pem")
    public = public_bytes(intruder)
    rekeyed = witness.enrol(origin, verifier_key(origin, public), str(ledger.folder))
    assert isinstance(rekeyed, Refusal) and "re-keyed" in rekeyed.reason
    fresh = origin_for(public)
    resealed = witness.enrol(fresh, verifier_key(fresh, public), str(ledger.folder))
    assert isinstance(resealed, Refusal) and "re-sealed or re-keyed" in resealed.reason
    assert witness.record(fresh) is None
    elsewhere = witness.enrol(fresh, verifier_key(fresh, public), str(tmp_path / "other"))
    assert elsewhere is None and witness.record(fresh) is not None
    again = witness.enrol(fresh, verifier_key(fresh, public), str(tmp_path / "other"))
    assert again is None  # enrolling a known log with its own key changes nothing


def test_witness_init_makes_a_witness_once(tmp_path: Path, invoke) -> None:
    made = invoke("witness", "init", str(tmp_path / "w"))
    assert made.exit_code == 0 and "verifier key: sealguard.local/witness/" in made.output
    assert stat.S_IMODE((tmp_path / "w/witness.pem").stat().st_mode) == 0o600
    again = invoke("witness", "init", str(tmp_path / "w"))
    assert again.exit_code == 4 and "already holds a witness" in again.stderr
    empty = invoke("witness", "check", "--dir", str(tmp_path / "w"))
    assert empty.exit_code == 0 and "keeps no log yet" in empty.output
    (tmp_path / "none").mkdir()
    none = invoke("witness", "check", "--dir", str(tmp_path / "none"))
    assert none.exit_code == 64 and "no witness here" in none.stderr


def test_witness_check_reports_a_project_whose_log_is_gone(tmp_path: Path, invoke) -> None:
    witness = tmp_path / "witness"
    project = _sealed(tmp_path, invoke, witness)
    shutil.rmtree(project.governance)
    checked = invoke("witness", "check", "--dir", str(witness))
    assert checked.exit_code == 3
    assert checked.output == (
        f"INCIDENT {project.runtime}: governance/runtime/GOVERNANCE_LOG.ndjson is gone: "
        "the project's log no longer exists\n"
    )


def test_a_witness_line_pointing_at_another_witness_is_an_incident(tmp_path: Path, invoke) -> None:
    witness = tmp_path / "witness"
    project = _sealed(tmp_path, invoke, witness)
    assert invoke("witness", "init", str(tmp_path / "decoy")).exit_code == 0
    project.config_file.write_text(witnessed_config(tmp_path / "decoy"))
    assert _run(invoke, project, "verify").exit_code == 3  # the config file was edited
    decoy = Ledger.in_folder(project.runtime, witness=tmp_path / "decoy")
    problems = " ".join(p.message for p in audit(decoy).problems)
    assert "is witness sealguard.local/witness/" in problems


def test_the_same_origin_under_another_key_is_a_rekeyed_log(tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    ledger = make_log(tmp_path / "rt", 4, witness=witness)
    origin = parse(ledger.checkpoint.read_text()).origin
    ledger.key_file.unlink()
    public = public_bytes(create_key(ledger.key_file))
    events = [json.loads(line) for line in lines_of(ledger)]
    events[0]["log_key"]["verifier_key"] = verifier_key(origin, public)  # the origin kept
    key = load_key(ledger.key_file)
    tree, notes, lines = CompactRange(), [], [encode_event(e) for e in events]
    for line in lines:
        tree.push(leaf_hash(line))
        notes.append(sign(origin, tree.size, tree.root(), origin, key).note())
    ledger.log.write_bytes(b"".join(x + b"\n" for x in lines))
    ledger.history.write_text("".join(n + "\n" for n in notes))
    ledger.checkpoint.write_text(notes[-1])
    ledger.state.unlink()
    ledger.pending.unlink()
    problems = audit(ledger).problems
    assert any(p.kind == "WITNESS" and "the log was re-keyed" in p.message for p in problems)
    append(ledger, "after", {})  # still written locally; the witness refuses it
    refusals = FolderWitness(witness).refusals(origin)
    assert [r.status for r in refusals] == [409]  # its new key makes another origin
    assert any(p.kind == "REFUSED" for p in audit(ledger).problems)


def test_a_log_deleted_under_a_witness_is_an_incident(tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    ledger = make_log(tmp_path / "rt", 3, witness=witness)
    for path in (ledger.log, ledger.checkpoint, ledger.history):
        path.unlink()
    problems = audit(ledger).problems
    assert [p.kind for p in problems] == ["WITNESS"]
    assert "but the log here is gone or names no key" in problems[0].message


def test_a_witness_record_that_cannot_be_read(tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    ledger = make_log(tmp_path / "rt", 3, witness=witness)
    (record_file,) = (witness / "logs").glob("*.json")
    record_file.write_text('{"format": "something else"}')
    problems = audit(ledger).problems
    assert [p.kind for p in problems] == ["WITNESS"]
    assert "the witness cannot be read" in problems[0].message
    assert "not a witness record" in problems[0].message
    with pytest.raises(EvidenceWriteError, match="the witness could not be updated"):
        append(ledger, "x", {})
    assert read_events(ledger.log)[-1]["type"] == "x"  # written locally first


def test_a_fifo_in_place_of_the_log_is_an_incident_not_a_hang(tmp_path: Path, invoke) -> None:
    witness = tmp_path / "witness"
    project = _sealed(tmp_path, invoke, witness)
    project.log_file.unlink()
    os.mkfifo(project.log_file)  # an open for reading would wait for a writer for ever
    reason = "governance/runtime/GOVERNANCE_LOG.ndjson is not a regular file"
    for args in (
        ["--project", str(project.root), "log", "verify"],
        ["witness", "check", "--dir", str(witness)],
    ):
        command = [sys.executable, "-m", "sealguard", *args]
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
        assert done.returncode == 3 and reason in done.stdout, (args, done.stdout, done.stderr)
    with pytest.raises(IntegrityError, match="is not a regular file"):
        append(Ledger.in_folder(project.runtime), "note", {})
