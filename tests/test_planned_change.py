"""A planned change signed before deployment: installed by the observation that sees exactly it;
anything beyond it is still an INCIDENT."""

import json
import shutil
from pathlib import Path

from .decision_projects import Team, events_of, governed, key_args, run, state_of


def _staged_release(project_root: Path, staging: Path) -> Path:
    """A staging copy of the build with the release's change (a new src/app.py)."""
    shutil.copytree(project_root, staging, ignore=shutil.ignore_patterns("runtime", "baseline",
                                                                         "BASELINE_REF.sha256"))  # fmt: skip
    (staging / "src" / "app.py").write_text("print('app 1.1')\n")
    return staging


def _authorise(project, team: Team, staging: Path) -> str:  # type: ignore[no-untyped-def]
    proposed = run(project, "propose", "--from", str(staging), "--reason", "release 1.1")
    assert proposed.exit_code == 0, proposed.output
    pro = proposed.output.split(":")[0]
    decided = run(project, "decide", pro, "reseal", "--reason", "release 1.1 approved",
                  *key_args(team.alice))  # fmt: skip
    assert decided.exit_code == 0, decided.output
    return pro


def test_a_change_signed_before_deployment_is_installed_when_observed(
    tmp_path: Path, team: Team
) -> None:
    project = governed(tmp_path, team)
    staging = _staged_release(project.root, tmp_path / "staging")
    pro = _authorise(project, team, staging)
    state = state_of(project)
    assert state.mode == "OBSERVING" and state.authorised is not None and state.version == 1
    assert "authorised change" in run(project, "status").output
    # not deployed yet: the old build is still STABLE against v1
    assert run(project, "observe").exit_code == 0
    shutil.copyfile(staging / "src" / "app.py", project.root / "src" / "app.py")  # deploy
    done = run(project, "observe", "--json")
    assert done.exit_code == 0, done.output
    event = json.loads(done.stdout)
    assert event["classification"] == "STABLE" and pro in event["authorised_change"]
    assert state_of(project).version == 2
    assert events_of(project, "baseline_installed")[-1]["proposal"] == pro
    assert run(project, "verify").exit_code == 0


def test_one_extra_file_beyond_the_signed_change_is_still_an_incident(
    tmp_path: Path, team: Team
) -> None:
    project = governed(tmp_path, team)
    staging = _staged_release(project.root, tmp_path / "staging")
    _authorise(project, team, staging)
    shutil.copyfile(staging / "src" / "app.py", project.root / "src" / "app.py")
    (project.root / "src" / "backdoor.py").write_text("import os\n")
    done = run(project, "observe", "--json")
    assert done.exit_code == 3, done.output
    assert state_of(project).version == 1  # nothing installed
    assert not events_of(project, "baseline_installed")


def test_a_planned_change_of_the_config_alone_is_an_amendment(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    staging = tmp_path / "staging"
    shutil.copytree(project.root, staging, ignore=shutil.ignore_patterns("runtime"))
    config = staging / "governance" / "sealguard.toml"
    config.write_text(config.read_text().replace('timeout = "20s"', 'timeout = "30s"'))
    proposed = run(project, "propose", "--from", str(staging))
    assert proposed.exit_code == 0 and "a proposal to amend" in proposed.output, proposed.output
    pro = proposed.output.split(":")[0]
    wrong = run(project, "decide", pro, "reseal", "--reason", "x", *key_args(team.alice))
    assert wrong.exit_code == 4 and "amend" in wrong.output
    done = run(project, "decide", pro, "amend", "--reason", "slower CI", *key_args(team.alice))
    assert done.exit_code == 0, done.output
    shutil.copyfile(config, project.config_file)
    assert run(project, "observe").exit_code == 0
    assert state_of(project).version == 2
    assert 'timeout = "30s"' in (project.governance / "baseline" / "_sealguard.toml").read_text()


def test_a_staging_copy_without_the_authority_file_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    staging = _staged_release(project.root, tmp_path / "staging")
    (staging / "governance" / "AUTHORITY.toml").unlink()
    done = run(project, "propose", "--from", str(staging))
    assert done.exit_code == 4 and "AUTHORITY.toml: missing" in done.output, done.output
    assert not events_of(project, "proposal_made")


def test_one_architect_cannot_lower_the_two_person_rule(tmp_path: Path, team: Team) -> None:
    from .decision_projects import authority_text

    project = governed(tmp_path, team, rules="reseal = 2\nclose-incident = 2")
    staging = tmp_path / "staging"
    shutil.copytree(project.root, staging, ignore=shutil.ignore_patterns("runtime"))
    (staging / "governance" / "AUTHORITY.toml").write_text(authority_text(team))  # no rules
    proposed = run(project, "propose", "--from", str(staging))
    assert proposed.exit_code == 0, proposed.output
    # the signer reads what changes, line by line
    assert "-reseal = 2" in proposed.output and "-close-incident = 2" in proposed.output
    pro = proposed.output.split(":")[0]
    alone = run(project, "decide", pro, "amend", "--reason", "simpler", *key_args(team.alice))
    assert alone.exit_code == 4 and "strictest rule" in alone.output, alone.output
    both = run(project, "decide", pro, "amend", "--reason", "agreed by two",
               *key_args(team.alice, team.bob))  # fmt: skip
    assert both.exit_code == 0, both.output
    shutil.copyfile(staging / "governance" / "AUTHORITY.toml", project.authority_file)
    assert run(project, "observe").exit_code == 0
    assert run(project, "verify").exit_code == 0


def test_a_partial_deployment_is_an_incident_that_says_the_change_was_not_installed(
    tmp_path: Path, team: Team
) -> None:
    project = governed(tmp_path, team)
    staging = _staged_release(project.root, tmp_path / "staging")
    (staging / "src" / "util.py").write_text("X = 1\n")
    pro = _authorise(project, team, staging)
    shutil.copyfile(staging / "src" / "app.py", project.root / "src" / "app.py")  # util.py not yet
    done = run(project, "observe", "--json")
    assert done.exit_code == 3
    said = json.loads(done.stdout)["authorised_change"]
    assert pro in said and "NOT installed" in said and "src/util.py" in said
    # the signed proposal still stands for the incident's way out: decide it while HALTED
    decided = run(project, "decide", pro, "reseal", "--reason", "finish the release",
                  *key_args(team.alice))  # fmt: skip
    assert decided.exit_code == 0, decided.output
    shutil.copyfile(staging / "src" / "util.py", project.root / "src" / "util.py")
    assert run(project, "certify").exit_code == 0
