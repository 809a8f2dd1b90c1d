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
