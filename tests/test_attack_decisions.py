"""The decide stage attacked: by someone holding the log's key, by a careless operator, by a
crash. Each test is a hole found once; a false INCIDENT counts as much as a missed one."""

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sealguard import ledger
from sealguard.config import load_config
from sealguard.decide import decisions
from sealguard.decide.keys import load_private_key
from sealguard.decide.sshsig import sign
from sealguard.errors import BusyError
from sealguard.project import Project

from .decision_projects import (
    Team,
    drift,
    events_of,
    governed,
    key_args,
    make_team,
    run,
    state_of,
)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Team:
    return make_team(tmp_path_factory.mktemp("keys"))


def _ledger(project: Project) -> ledger.Ledger:
    return project.ledger(load_config(project.config_file))


def _forge(project: Project, kind: str, fields: dict[str, Any]) -> None:
    """A line appended straight to the log, checkpoint re-signed with the log's own key: what a
    thief of that key can do."""
    ledger.append(_ledger(project), kind, fields)


def _copy_of(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in ("seq", "ts", "type")}


def _release(project: Project, team: Team, staging: Path, text: str) -> str:
    """A planned release of src/app.py, proposed from a staging copy, signed, deployed and
    installed by the observation that sees it; returns its decision id."""
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(project.root, staging, ignore=shutil.ignore_patterns("runtime"))
    (staging / "src" / "app.py").write_text(text)
    proposed = run(project, "propose", "--from", str(staging), "--reason", text)
    assert proposed.exit_code == 0, proposed.output
    pro = proposed.output.split(":")[0]
    decided = run(project, "decide", pro, "reseal", "--reason", "ok", *key_args(team.alice))
    assert decided.exit_code == 0, decided.output
    (project.root / "src" / "app.py").write_text(text)
    observed = run(project, "observe")
    assert observed.exit_code == 0, observed.output
    return str(events_of(project, "decision")[-1]["decision_id"])


# -- INV-D-06 and replayed lines ------------------------------------------------------------


def test_a_valid_decision_line_copied_later_into_the_log_is_an_incident(
    tmp_path: Path, team: Team
) -> None:
    """A verbatim copy of an old accept, appended after a new drift, un-freezes the state;
    before the fix its signatures, leaf and log prefix all held and verify said nothing."""
    project = governed(tmp_path, team)
    first = drift(project)
    done = run(project, "decide", first, "accept", "--reason", "x", *key_args(team.alice))
    assert done.exit_code == 0, done.output
    (project.root / "data" / "value.txt").write_text("44\n")
    assert run(project, "observe").exit_code == 2
    _forge(project, "decision", _copy_of(events_of(project, "decision")[-1]))
    assert state_of(project).mode == "OBSERVING"  # what the copied line claims
    checked = run(project, "verify")
    assert checked.exit_code == 3 and "INV-D-06" in checked.output, checked.output
    assert "replayed" in checked.output


def test_a_signed_release_replayed_to_downgrade_the_build_is_an_incident(
    tmp_path: Path, team: Team
) -> None:
    """Release 1.1 then 1.2 are signed and installed; the thief deploys 1.1 again and copies
    its decision line: before the fix, observe installed 1.1 as "authorised" and verify agreed."""
    project = governed(tmp_path, team)
    old = _release(project, team, tmp_path / "staging", "print('app 1.1')\n")
    _release(project, team, tmp_path / "staging", "print('app 1.2')\n")
    assert state_of(project).version == 3
    record = next(e for e in events_of(project, "decision") if e["decision_id"] == old)
    _forge(project, "decision", _copy_of(record))
    (project.root / "src" / "app.py").write_text("print('app 1.1')\n")
    done = run(project, "observe", "--json")
    assert done.exit_code == 3, done.output
    assert state_of(project).version == 3  # nothing installed on a replayed authority
    assert len(events_of(project, "baseline_installed")) == 2


def test_an_installation_replayed_after_a_rollback_is_an_incident(
    tmp_path: Path, team: Team
) -> None:
    """After a rollback to v1, a copied `baseline_installed` of v2 (citing the valid accept
    that once installed it) with v2's files put back: one decision, two installations."""
    project = governed(tmp_path, team)
    first = drift(project)
    assert run(project, "decide", first, "accept", "--reason", "x",
               *key_args(team.alice)).exit_code == 0  # fmt: skip
    installed_v2 = events_of(project, "baseline_installed")[-1]
    second = drift_to(project, "44\n")
    done = run(project, "decide", second, "rollback", "--to", "v1", "--reason", "back",
               *key_args(team.alice))  # fmt: skip
    assert done.exit_code == 0, done.output
    assert state_of(project).version == 1
    kept = project.version_folder(2)
    shutil.rmtree(project.governance / "baseline")
    shutil.copytree(kept / "baseline", project.governance / "baseline")
    shutil.copyfile(kept / "BASELINE_REF.sha256", project.baseline_file)
    _forge(project, "baseline_installed", _copy_of(installed_v2))
    checked = run(project, "verify")
    assert checked.exit_code == 3 and "INV-D-06" in checked.output, checked.output


def drift_to(project: Project, value: str) -> str:
    (project.root / "data" / "value.txt").write_text(value)
    done = run(project, "observe", "--json")
    assert done.exit_code == 2, done.output
    return str(json.loads(done.stdout)["event_id"])


def test_a_forged_planned_change_is_not_installed_before_the_incident(
    tmp_path: Path, team: Team
) -> None:
    """A reseal decision forged with a stranger's key authorises a planned change; before the
    fix observe installed the proposal (v2 in force on forged authority), then halted."""
    project = governed(tmp_path, team)
    staging = tmp_path / "staging"
    shutil.copytree(project.root, staging, ignore=shutil.ignore_patterns("runtime"))
    (staging / "src" / "app.py").write_text("print('evil')\n")
    proposed = run(project, "propose", "--from", str(staging))
    pro = proposed.output.split(":")[0]
    made = run(project, "decide", pro, "reseal", "--reason", "forged", "--payload-only")
    assert made.exit_code == 0, made.output
    forged = sign(made.stdout_bytes, load_private_key(team.mallory.path))
    _forge(project, "decision", {
        **json.loads(made.stdout_bytes),
        "signers": [{"id": "amartin", "name": "Alice Martin", "key": "x", "signature": forged}],
        "payload_sha256": "0" * 64,
    })  # fmt: skip
    assert state_of(project).authorised is not None
    (project.root / "src" / "app.py").write_text("print('evil')\n")
    done = run(project, "observe")
    assert done.exit_code == 3, done.output
    assert not events_of(project, "baseline_installed")
    assert state_of(project).version == 1


def test_a_proposal_edited_while_its_planned_change_waits_is_an_incident_not_a_refusal(
    tmp_path: Path, team: Team
) -> None:
    """Before the fix, every observe exited 4 ("not as PRO_… recorded it") and journaled
    nothing: an edit of the signed proposal silenced observation, with no escalation."""
    project = governed(tmp_path, team)
    staging = tmp_path / "staging"
    shutil.copytree(project.root, staging, ignore=shutil.ignore_patterns("runtime"))
    (staging / "src" / "app.py").write_text("print('app 1.1')\n")
    pro = run(project, "propose", "--from", str(staging)).output.split(":")[0]
    assert run(project, "decide", pro, "reseal", "--reason", "ok",
               *key_args(team.alice)).exit_code == 0  # fmt: skip
    folder = project.proposal_folder(pro)
    (folder / "baseline" / "value" / "output.normalized").write_text("666\n")
    (project.root / "src" / "app.py").write_text("print('app 1.1')\n")  # deployed
    done = run(project, "observe", "--json")
    assert done.exit_code == 3, done.output
    assert json.loads(done.stdout)["classification"] == "INCIDENT"
    assert not events_of(project, "baseline_installed")
    assert events_of(project, "escalation_created")


# -- what is installed is what was signed ---------------------------------------------------


def test_a_proposal_edited_between_signing_and_recording_journals_no_decision(
    tmp_path: Path, team: Team
) -> None:
    """Before the fix the accept was journaled (state OBSERVING) and only then did the install
    fail: the log said accepted, the baseline in force was still v1."""
    project = governed(tmp_path, team)
    event_id = drift(project)
    made = run(project, "decide", event_id, "accept", "--reason", "x", "--payload-only")
    payload = tmp_path / "payload.json"
    payload.write_bytes(made.stdout_bytes)
    pro = json.loads(made.stdout_bytes)["result"]["proposal"]
    edited = project.proposal_folder(pro) / "baseline" / "value" / "output.normalized"
    edited.write_text("666\n")
    done = run(project, "decide", event_id, "--payload", str(payload), *key_args(team.alice))
    assert done.exit_code == 4, done.output
    assert not events_of(project, "decision")
    assert state_of(project).mode == "FROZEN"


def test_a_kept_version_edited_before_a_rollback_is_refused_before_anything_is_journaled(
    tmp_path: Path, team: Team
) -> None:
    """kept_files checked only BASELINE_REF.sha256: an edited behaviour file of v1 was
    installed, after the rollback decision was journaled."""
    project = governed(tmp_path, team)
    first = drift(project)
    assert run(project, "decide", first, "accept", "--reason", "x",
               *key_args(team.alice)).exit_code == 0  # fmt: skip
    second = drift_to(project, "44\n")
    kept = project.version_folder(1) / "baseline" / "value" / "output.normalized"
    kept.write_text("44\n")  # so that the drift "certifies" against the rolled-back v1
    done = run(project, "decide", second, "rollback", "--to", "v1", "--reason", "back",
               *key_args(team.alice))  # fmt: skip
    assert done.exit_code == 4, done.output
    assert [e["decision"] for e in events_of(project, "decision")] == ["accept"]
    assert (project.governance / "baseline" / "value" / "output.normalized").read_text() == "43\n"


# -- races ----------------------------------------------------------------------------------


def test_two_decisions_racing_cannot_both_be_carried_out(
    tmp_path: Path, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An accept and an investigation of the same drift, recorded at the same time: before the fix
    both were journaled (each checked the log before the other wrote), and both installed."""
    project = governed(tmp_path, team)
    event_id = drift(project)
    config = load_config(project.config_file)
    moment = datetime.now(UTC)
    accept = decisions.prepare(
        project, config, decisions.Request(event_id, "accept", "yes"), moment
    )
    other = decisions.prepare(
        project, config, decisions.Request(event_id, "investigate", "look"), moment
    )
    alice = load_private_key(team.alice.path)
    inner: list[BaseException] = []
    real = decisions._signers

    def racing(*args: Any, **kwargs: Any) -> Any:
        if not inner:  # the other decision lands while this one is being checked
            inner.append(RuntimeError("recorded"))
            try:
                decisions.record(project, config, other, [sign(other, alice)], moment)
            except BusyError as exc:
                inner[0] = exc
        return real(*args, **kwargs)

    monkeypatch.setattr(decisions, "_signers", racing)
    decisions.record(project, config, accept, [sign(accept, alice)], moment)
    assert isinstance(inner[0], BusyError), inner
    assert [e["decision"] for e in events_of(project, "decision")] == ["accept"]


# -- a crash in the middle of an installation -----------------------------------------------

_CRASH = """
import os, signal, sys
from pathlib import Path
src, dst = sys.argv[1], sys.argv[2]
real = os.replace
def replace(a, b, *args, **kwargs):
    if str(a).endswith(src) and str(b).endswith(dst):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(a, b, *args, **kwargs)
os.replace = replace
from sealguard.cli import main
sys.argv = ["sealguard", *sys.argv[3:]]
main()
"""


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        ("governance/baseline", "governance/.baseline.leaving"),  # right after the journal
        (".baseline.installing/baseline", "governance/baseline"),  # old folder moved away
        (".baseline.installing/BASELINE_REF.sha256", "BASELINE_REF.sha256"),  # folder swapped
    ],
)
def test_kill_9_in_the_middle_of_an_installation_never_makes_a_false_incident(
    tmp_path: Path, team: Team, src: str, dst: str
) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    script = tmp_path / "crash.py"
    script.write_text(_CRASH)
    killed = subprocess.run(
        [sys.executable, str(script), src, dst, "--project", str(project.root), "decide",
         event_id, "accept", "--reason", "x", *key_args(team.alice)],
        capture_output=True, text=True, check=False, env={**os.environ},
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    assert state_of(project).version == 2  # journaled: v2 is in force
    checked = run(project, "verify")
    assert checked.exit_code == 0, checked.output
    done = run(project, "observe", "--json")
    assert done.exit_code == 0, done.output
    assert (project.governance / "baseline" / "value" / "output.normalized").read_text() == "43\n"
    assert run(project, "verify").exit_code == 0
    assert not (project.governance / ".baseline.leaving").exists()
    # the decision was journaled before the crash: the drift's escalation is closed by it
    assert events_of(project, "escalation_acknowledged")


# -- legitimate flows never make a false INCIDENT -------------------------------------------


def test_accept_rollback_certify_accept_again_stays_healthy(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    first = drift(project)
    assert run(project, "decide", first, "accept", "--reason", "a",
               *key_args(team.alice)).exit_code == 0  # fmt: skip
    assert run(project, "verify").exit_code == 0
    second = drift_to(project, "44\n")
    done = run(project, "decide", second, "rollback", "--to", "v1", "--reason", "b",
               *key_args(team.bob))  # fmt: skip
    assert done.exit_code == 0, done.output
    (project.root / "data" / "value.txt").write_text("42\n")  # restored to v1's behaviour
    assert run(project, "certify").exit_code == 0
    assert run(project, "verify").exit_code == 0
    assert run(project, "observe").exit_code == 0
    third = drift_to(project, "45\n")
    assert run(project, "decide", third, "accept", "--reason", "c",
               *key_args(team.alice)).exit_code == 0  # fmt: skip
    assert state_of(project).version == 3
    assert run(project, "observe").exit_code == 0
    fourth = drift_to(project, "43\n")
    back = run(project, "decide", fourth, "rollback", "--to", "v2", "--reason", "d",
               *key_args(team.alice))  # fmt: skip
    assert back.exit_code == 0, back.output
    assert run(project, "certify").exit_code == 0  # 43 is what v2 accepted
    checked = run(project, "verify")
    assert checked.exit_code == 0, checked.output


def test_a_planned_change_installs_with_an_extra_file_outside_the_sealed_paths(
    tmp_path: Path, team: Team
) -> None:
    project = governed(tmp_path, team)
    staging = tmp_path / "staging"
    shutil.copytree(project.root, staging, ignore=shutil.ignore_patterns("runtime"))
    (staging / "src" / "app.py").write_text("print('app 1.1')\n")
    pro = run(project, "propose", "--from", str(staging)).output.split(":")[0]
    assert run(project, "decide", pro, "reseal", "--reason", "ok",
               *key_args(team.alice)).exit_code == 0  # fmt: skip
    (project.root / "src" / "app.py").write_text("print('app 1.1')\n")
    (project.root / "data" / "notes.txt").write_text("not sealed\n")
    done = run(project, "observe")
    assert done.exit_code == 0, done.output
    assert state_of(project).version == 2
    assert run(project, "verify").exit_code == 0


def test_certify_while_observing_is_refused_and_journaled(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    done = run(project, "certify")
    assert done.exit_code == 4, done.output
    assert events_of(project, "certification_refused")
    assert state_of(project).mode == "OBSERVING"
    assert run(project, "observe").exit_code == 0


def test_a_decision_while_an_observation_runs_is_busy_and_journals_nothing(
    tmp_path: Path, team: Team
) -> None:
    from sealguard.lock import observer_lock

    project = governed(tmp_path, team)
    event_id = drift(project)
    with observer_lock(_ledger(project).folder):
        done = run(project, "decide", event_id, "accept", "--reason", "x", *key_args(team.alice))
    assert done.exit_code == 75, done.output
    assert "another observation or decision" in done.output
    assert not events_of(project, "decision") and not events_of(project, "proposal_made")
    later = run(project, "decide", event_id, "accept", "--reason", "x", *key_args(team.alice))
    assert later.exit_code == 0, later.output


def test_a_payload_transplanted_from_another_project_is_refused(tmp_path: Path, team: Team) -> None:
    one = governed(tmp_path / "one", team)
    other = governed(tmp_path / "other", team)
    made = run(one, "decide", drift(one), "accept", "--reason", "x", "--payload-only")
    drift(other)
    payload = tmp_path / "payload.json"
    payload.write_bytes(made.stdout_bytes)
    signature = tmp_path / "sig"
    signature.write_text(sign(made.stdout_bytes, load_private_key(team.alice.path)))
    target = json.loads(made.stdout_bytes)["answers"]["id"]  # named as the payload says
    done = run(other, "decide", target, "--payload", str(payload), "--signature", str(signature))
    assert done.exit_code == 4 and "(origin)" in done.output, done.output
    assert state_of(other).mode == "FROZEN"


def test_an_accept_signed_before_a_rollback_is_refused_after_it(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    first = drift(project)
    assert run(project, "decide", first, "accept", "--reason", "a",
               *key_args(team.alice)).exit_code == 0  # fmt: skip
    second = drift_to(project, "44\n")
    made = run(project, "decide", second, "accept", "--reason", "late", "--payload-only")
    payload = tmp_path / "payload.json"
    payload.write_bytes(made.stdout_bytes)
    done = run(project, "decide", second, "rollback", "--to", "v1", "--reason", "b",
               *key_args(team.bob))  # fmt: skip
    assert done.exit_code == 0, done.output
    late = run(project, "decide", second, "--payload", str(payload), *key_args(team.alice))
    assert late.exit_code == 4, late.output
    assert state_of(project).version == 1


def _rolled_back_release(tmp_path: Path, team: Team) -> Project:
    project = governed(tmp_path, team)
    _release(project, team, tmp_path / "staging", "print('app 1.1')\n")
    event_id = drift(project)
    done = run(project, "decide", event_id, "rollback", "--to", "v1", "--reason", "back",
               *key_args(team.alice))  # fmt: skip
    assert done.exit_code == 0, done.output
    return project


def test_an_observation_between_a_rollback_and_the_restore_is_not_an_incident(
    tmp_path: Path, team: Team
) -> None:
    """v2 is a release (src/app.py changed); a drift at v2 is rolled back to v1, which is
    installed at once. Until people restore the build, its tree is v2's: a scheduled observe
    in that window must be refused (FROZEN, awaiting certification), not halt as an INCIDENT."""
    project = _rolled_back_release(tmp_path, team)
    observed = run(project, "observe")
    assert observed.exit_code == 4, observed.output
    assert state_of(project).mode == "FROZEN"
    (project.root / "src" / "app.py").write_text("print('app')\n")  # restored
    (project.root / "data" / "value.txt").write_text("42\n")
    assert run(project, "certify").exit_code == 0
    assert run(project, "verify").exit_code == 0


def test_a_tree_that_is_neither_version_after_a_rollback_is_still_an_incident(
    tmp_path: Path, team: Team
) -> None:
    project = _rolled_back_release(tmp_path, team)
    (project.root / "src" / "backdoor.py").write_text("import os\n")
    observed = run(project, "observe")
    assert observed.exit_code == 3, observed.output
    assert state_of(project).mode == "HALTED"


def test_a_rollback_to_a_kept_release_restores_it_and_certifies(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    _release(project, team, tmp_path / "staging", "print('app 1.1')\n")
    _release(project, team, tmp_path / "staging", "print('app 1.2')\n")
    event_id = drift(project)
    done = run(project, "decide", event_id, "rollback", "--to", "v2", "--reason", "back",
               *key_args(team.alice))  # fmt: skip
    assert done.exit_code == 0, done.output
    assert run(project, "observe").exit_code == 4  # not restored yet: awaited, not an INCIDENT
    (project.root / "src" / "app.py").write_text("print('app 1.1')\n")
    (project.root / "data" / "value.txt").write_text("42\n")
    assert run(project, "certify").exit_code == 0
    assert run(project, "verify").exit_code == 0


def test_a_kept_version_missing_a_file_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    first = drift(project)
    assert run(project, "decide", first, "accept", "--reason", "x",
               *key_args(team.alice)).exit_code == 0  # fmt: skip
    second = drift_to(project, "44\n")
    (project.version_folder(1) / "baseline" / "value" / "probe.json").unlink()
    done = run(project, "decide", second, "rollback", "--to", "v1", "--reason", "back",
               *key_args(team.alice))  # fmt: skip
    assert done.exit_code == 4 and "kept without" in done.output, done.output
    assert state_of(project).version == 2
