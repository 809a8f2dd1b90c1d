"""Signed decisions: the way out of FROZEN, with real keys (ssh-keygen) and the real CLI."""

import json
from pathlib import Path

import pytest

from sealguard.decide.sshsig import NAMESPACE

from .decision_projects import (
    Team,
    drift,
    events_of,
    governed,
    key_args,
    run,
    state_of,
)
from .ssh_tools import keygen_sign


def test_accept_installs_the_observed_outputs_as_v2_and_observation_resumes(
    tmp_path: Path, team: Team
) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    assert run(project, "observe").exit_code == 4  # frozen: refused
    done = run(project, "decide", event_id, "accept", "--reason", "new rate table",
               *key_args(team.alice))  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "Alice Martin (amartin)" in done.output and "meaning: approval" in done.output
    state = state_of(project)
    assert (state.mode, state.version) == ("OBSERVING", 2)
    # the new behaviour baseline is what the drift observed, never a fresh run
    baseline = project.governance / "baseline" / "value" / "output.normalized"
    assert baseline.read_text() == "43\n"
    again = run(project, "observe")
    assert again.exit_code == 0, again.output
    assert run(project, "verify").exit_code == 0
    # v1 is kept, byte for byte, for a rollback
    kept = project.version_folder(1) / "baseline" / "value" / "output.normalized"
    assert kept.read_text() == "42\n"
    status = run(project, "status")
    assert "v2" in status.output and "Alice Martin (amartin)" in status.output
    assert "meaning: approval" in status.output
    # its escalation is closed by the decision
    acks = events_of(project, "escalation_acknowledged")
    assert acks and "DEC_" in str(acks[-1]["by"])


def test_investigate_keeps_observation_frozen_and_says_by_whom(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    done = run(project, "decide", event_id, "investigate", "--reason", "looking at the rates",
               "--meaning", "responsibility", *key_args(team.bob))  # fmt: skip
    assert done.exit_code == 0, done.output
    state = state_of(project)
    assert state.mode == "FROZEN"
    assert state.investigation is not None and "Bob Durand" in state.investigation.by
    assert run(project, "observe").exit_code == 4
    status = run(project, "status").output
    assert "under investigation" in status and "looking at the rates" in status
    # a later accept still answers the drift
    later = run(project, "decide", event_id, "accept", "--reason", "ok", *key_args(team.alice))
    assert later.exit_code == 0, later.output
    assert state_of(project).mode == "OBSERVING"


def test_rollback_waits_for_the_build_to_be_restored_and_a_stable_certification(
    tmp_path: Path, team: Team
) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    done = run(project, "decide", event_id, "rollback", "--to", "v1", "--reason", "bad data",
               *key_args(team.alice))  # fmt: skip
    assert done.exit_code == 0, done.output
    assert state_of(project).mode == "FROZEN"
    assert run(project, "observe").exit_code == 4  # still frozen: certify is the way
    failed = run(project, "certify")  # not restored yet: the drift is still there
    assert failed.exit_code == 2
    assert state_of(project).mode == "FROZEN"
    # a failed certification uses nothing up: the decision stands; restore, certify again
    assert state_of(project).awaiting is not None
    assert "certification run" in failed.output
    (project.root / "data" / "value.txt").write_text("42\n")
    assert run(project, "certify").exit_code == 0
    assert state_of(project).mode == "OBSERVING"
    assert run(project, "certify").exit_code == 4  # nothing awaits certification now


def test_rollback_then_restore_then_certify_resumes(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    run(project, "decide", event_id, "rollback", "--to", "v1", "--reason", "bad data",
        *key_args(team.alice))  # fmt: skip
    (project.root / "data" / "value.txt").write_text("42\n")  # people restore the build
    done = run(project, "certify", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["purpose"] == "certification"
    assert state_of(project).mode == "OBSERVING"
    assert run(project, "observe").exit_code == 0


def test_ssh_keygen_signs_the_payload_elsewhere_and_verifies_the_journaled_signature(
    tmp_path: Path, team: Team
) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    made = run(project, "decide", event_id, "accept", "--reason", "air-gapped", "--payload-only")
    assert made.exit_code == 0, made.output
    payload = tmp_path / "payload.json"
    payload.write_bytes(made.stdout_bytes)
    signature = tmp_path / "payload.json.sig"
    signature.write_text(keygen_sign(team.alice, payload))
    done = run(project, "decide", event_id, "--payload", str(payload),
               "--signature", str(signature))  # fmt: skip
    assert done.exit_code == 0, done.output
    record = events_of(project, "decision")[-1]
    signers = record["signers"]
    assert isinstance(signers, list)
    # and ssh-keygen agrees with what sealguard journaled
    journaled = tmp_path / "journaled.sig"
    journaled.write_text(signers[0]["signature"])
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"amartin {team.alice.line}\n")
    import subprocess

    check = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "amartin", "-n", NAMESPACE,
         "-s", str(journaled)],
        input=payload.read_bytes(), capture_output=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr


def test_an_ssh_agent_holding_a_passphrase_key_signs_the_decision(
    tmp_path: Path, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .ssh_tools import make_key, ssh_add, ssh_agent

    carol = make_key(tmp_path, "carol", passphrase="correct horse")
    locked = Team(alice=carol, bob=team.bob, olga=team.olga, mallory=team.mallory)
    project = governed(tmp_path, locked)  # carol is the architect "amartin" here
    event_id = drift(project)
    monkeypatch.chdir(tmp_path)
    with ssh_agent(tmp_path) as socket:
        ssh_add(socket, carol)
        monkeypatch.setenv("SSH_AUTH_SOCK", socket)
        done = run(project, "decide", event_id, "accept", "--reason", "via agent", "--agent")
    assert done.exit_code == 0, done.output
    assert state_of(project).mode == "OBSERVING"


def test_a_passphrase_protected_key_file_signs_with_its_passphrase(
    tmp_path: Path, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .ssh_tools import make_key

    carol = make_key(tmp_path, "carol", passphrase="s3cret phrase")
    locked = Team(alice=carol, bob=team.bob, olga=team.olga, mallory=team.mallory)
    project = governed(tmp_path, locked)
    event_id = drift(project)
    monkeypatch.setenv("SEALGUARD_KEY_PASSPHRASE", "wrong")
    wrong = run(project, "decide", event_id, "accept", "--reason", "x", *key_args(carol))
    assert wrong.exit_code == 65 and "wrong passphrase" in wrong.output
    monkeypatch.setenv("SEALGUARD_KEY_PASSPHRASE", "s3cret phrase")
    done = run(project, "decide", event_id, "accept", "--reason", "x", *key_args(carol))
    assert done.exit_code == 0, done.output


def test_an_amendment_of_the_authority_lets_the_new_architect_sign(
    tmp_path: Path, team: Team
) -> None:
    import shutil

    from .decision_projects import authority_text
    from .ssh_tools import make_key

    project = governed(tmp_path, team)
    carol = make_key(tmp_path, "carol")
    staging = tmp_path / "staging"
    shutil.copytree(project.root, staging, ignore=shutil.ignore_patterns("runtime"))
    amended = authority_text(team) + (
        f'[[person]]\nid = "cnoel"\nname = "Carol Noel"\nroles = ["architect"]\n'
        f'keys = ["{carol.line}"]\n'
    )
    (staging / "governance" / "AUTHORITY.toml").write_text(amended)
    proposed = run(project, "propose", "--from", str(staging))
    assert proposed.exit_code == 0 and "amend" in proposed.output, proposed.output
    pro = proposed.output.split(":")[0]
    # Carol cannot sign her own admission
    early = run(project, "decide", pro, "amend", "--reason", "x", *key_args(carol))
    assert early.exit_code == 4 and "unknown-key" in early.output
    done = run(project, "decide", pro, "amend", "--reason", "Carol joins", *key_args(team.alice))
    assert done.exit_code == 0, done.output
    project.authority_file.write_text(amended)  # deployed
    assert run(project, "observe").exit_code == 0
    assert state_of(project).version == 2
    event_id = drift(project)
    later = run(project, "decide", event_id, "accept", "--reason", "ok", *key_args(carol))
    assert later.exit_code == 0, later.output
    assert "Carol Noel (cnoel)" in later.output
    assert run(project, "verify").exit_code == 0


def test_an_unusable_authority_file_is_refused_at_seal(tmp_path: Path, team: Team) -> None:
    from .probe_projects import unsealed_cat_project

    project = unsealed_cat_project(tmp_path)
    project.authority_file.write_text('[[person]]\nid = "x"\nname = "X"\nroles = ["boss"]\n')
    done = run(project, "seal")
    assert done.exit_code == 78 and "AUTHORITY.toml:4" in done.output, done.output
    assert not project.baseline_file.exists()


def test_log_show_and_the_export_show_who_signed_when_and_what_it_means(
    tmp_path: Path, team: Team
) -> None:
    import tarfile

    project = governed(tmp_path, team)
    event_id = drift(project)
    run(project, "decide", event_id, "accept", "--reason", "rates", *key_args(team.alice))
    shown = run(project, "log", "show", "--type", "decision").output
    assert "Alice Martin (amartin)" in shown and "meaning: approval" in shown and "rates" in shown
    archive = tmp_path / "export.tar.gz"
    assert run(project, "log", "export", "-o", str(archive)).exit_code == 0
    with tarfile.open(archive) as opened:
        member = opened.extractfile("DECISIONS.txt")
        assert member is not None
        text = member.read().decode()
    assert "Alice Martin (amartin)" in text and "meaning: approval" in text


def test_show_names_the_decisions_that_answered_the_event(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    run(project, "decide", event_id, "investigate", "--reason", "why", "--meaning", "review",
        *key_args(team.bob))  # fmt: skip
    shown = run(project, "show", event_id).output
    assert "decision: DEC_" in shown and "Bob Durand (bdurand)" in shown
    assert "meaning: review" in shown


def test_watch_observes_again_once_a_decision_resumed_observation(
    tmp_path: Path, team: Team
) -> None:
    from sealguard.observe.observation import Observation
    from sealguard.observe.watch import NotObserving, watch

    project = governed(tmp_path, team)
    event_id = drift(project)
    frozen = list(watch(project, 0.0, 1, count=1))
    assert isinstance(frozen[0], NotObserving)
    run(project, "decide", event_id, "accept", "--reason", "ok", *key_args(team.alice))
    resumed = list(watch(project, 0.0, 1, count=1))
    assert isinstance(resumed[0], Observation)
    assert resumed[0].event.classification == "STABLE"


def test_rollback_to_a_version_that_left_force_reinstalls_it(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    first = drift(project)  # data 42 -> 43
    run(project, "decide", first, "accept", "--reason", "43 is right", *key_args(team.alice))
    assert state_of(project).version == 2
    (project.root / "data" / "value.txt").write_text("44\n")
    second = json.loads(run(project, "observe", "--json").stdout)["event_id"]
    done = run(project, "decide", second, "rollback", "--to", "v1", "--reason", "back to 42",
               *key_args(team.bob))  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "baseline v1 installed" in done.output
    baseline = project.governance / "baseline" / "value" / "output.normalized"
    assert baseline.read_text() == "42\n"
    assert state_of(project).version == 1 and state_of(project).mode == "FROZEN"
    # its escalation reached the Architect: the decision closed it
    acks = [e["escalation_id"] for e in events_of(project, "escalation_acknowledged")]
    assert len(acks) == 2
    (project.root / "data" / "value.txt").write_text("42\n")
    assert run(project, "certify").exit_code == 0
    assert state_of(project).mode == "OBSERVING"
    assert run(project, "verify").exit_code == 0
    assert run(project, "decide", second, "rollback", "--to", "v9", "--reason", "x",
               *key_args(team.bob)).exit_code == 4  # fmt: skip


def test_versions_lists_the_history_and_diffs_two_versions(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    run(project, "decide", event_id, "accept", "--reason", "rates", *key_args(team.alice))
    listed = run(project, "versions")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines[0].startswith("v1 ") and "sealed" in lines[0]
    assert lines[1].startswith("v2 (in force)") and "Alice Martin (amartin)" in lines[1]
    diffed = run(project, "versions", "--diff", "v1", "v2")
    assert diffed.exit_code == 0
    assert "governance/baseline/value/output.normalized" in diffed.output
    assert diffed.output.count("\n-") >= 1 and diffed.output.count("\n+") >= 1
    unknown = run(project, "versions", "--diff", "v1", "v7")
    assert unknown.exit_code == 4 and "never installed" in unknown.output
