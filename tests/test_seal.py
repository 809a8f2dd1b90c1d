"""seal: the baseline holds every sealed file once, is journaled, and is never overwritten."""

import hashlib
import json
import os
import subprocess

import pytest

from sealguard import ledger
from sealguard.config import load_config
from sealguard.errors import ConfigError, DataError
from sealguard.seal.sealing import seal

from .conftest import MakeTree


def test_seal_writes_manifest_and_journals_its_hash(make_project: MakeTree, invoke) -> None:
    project = make_project()
    result = invoke("--project", str(project.root), "seal")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("SEALED: 4 files and 0 symlinks")
    data = project.baseline_file.read_bytes()
    events = ledger.read_events(project.log_file)
    assert len(events) == 1
    assert events[0]["type"] == "baseline_sealed" and events[0]["seq"] == 0
    assert events[0]["baseline_sha256"] == hashlib.sha256(data).hexdigest()
    assert events[0]["ts"].endswith("Z")
    lines = [ln for ln in data.decode().splitlines() if not ln.startswith("#")]
    assert [ln.split("  ", 1)[1] for ln in lines] == [
        "governance/baseline/_sealguard.toml",
        "governance/sealguard.toml",
        "package.json",
        "src/app.py",
        "src/lib/util.py",
        "tests/test_app.py",
    ]  # fmt: skip  (the config is sealed with the build)
    done = subprocess.run(
        ["sha256sum", "-c", "--strict", "governance/BASELINE_REF.sha256"],
        cwd=project.root, capture_output=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_seal_refuses_when_a_baseline_exists(make_project: MakeTree, invoke) -> None:
    project = make_project()
    assert invoke("--project", str(project.root), "seal").exit_code == 0
    before = project.baseline_file.read_bytes()
    (project.root / "src/app.py").write_text("changed\n")
    result = invoke("--project", str(project.root), "seal")
    assert result.exit_code == 4
    assert result.stderr == (
        "sealguard: governance/BASELINE_REF.sha256 already exists: this build was sealed before. "
        "A new baseline needs an Architect's decision; seal will not overwrite it\n"
    )
    assert project.baseline_file.read_bytes() == before
    assert len(ledger.read_events(project.log_file)) == 1


def test_seal_refuses_when_only_the_log_exists(make_project: MakeTree, invoke) -> None:
    project = make_project()
    invoke("--project", str(project.root), "seal")
    project.baseline_file.unlink()
    result = invoke("--project", str(project.root), "seal")
    assert result.exit_code == 4
    assert "GOVERNANCE_LOG.ndjson already exists" in result.stderr
    assert not project.baseline_file.exists()


def test_a_glob_that_selects_nothing_is_a_config_error(make_project: MakeTree) -> None:
    project = make_project(config='[seal]\npaths = ["src/**", "docs"]\nfiles_only = true\n')
    (project.root / "docs").mkdir()
    (project.root / "docs/a.md").write_text("")
    with pytest.raises(ConfigError) as caught:
        seal(project, load_config(project.config_file), jobs=1)
    assert caught.value.message == (
        f'{project.config_file}:2: seal.paths[1]: "docs" selects no file (for a folder, write "docs/**")'
    )
    assert not project.baseline_file.exists()


def test_special_files_cannot_be_sealed(make_project: MakeTree) -> None:
    project = make_project()
    os.mkfifo(project.root / "src/fifo")
    with pytest.raises(DataError, match="src/fifo: is a special file"):
        seal(project, load_config(project.config_file), jobs=1)
    assert not project.baseline_file.exists() and not project.log_file.exists()


def test_modes_and_symlinks_are_recorded(make_project: MakeTree) -> None:
    project = make_project()
    os.chmod(project.root / "src/app.py", 0o750)
    os.symlink("../package.json", project.root / "src/pkg")
    os.symlink("lib", project.root / "src/libdir")
    report = seal(project, load_config(project.config_file), jobs=1)
    assert (report.files, report.symlinks) == (4, 2)
    text = project.baseline_file.read_text()
    assert "# mode 0750\n" in text
    assert '# symlink "src/libdir" -> "lib"' in text  # a symlinked folder is not walked into
    assert "src/libdir/util.py" not in text


def test_parallel_and_serial_seal_give_the_same_baseline(make_project: MakeTree) -> None:
    files: dict[str, str | bytes] = {f"src/{i % 9}/{i}.txt": os.urandom(i * 37) for i in range(300)}
    config = '[seal]\npaths = ["src/**"]\nfiles_only = true\n'
    one = make_project(files, config=config, name="one")
    two = make_project(files, config=config, name="two")
    seal(one, load_config(one.config_file), jobs=1)
    seal(two, load_config(two.config_file), jobs=2)
    assert one.baseline_file.read_bytes() == two.baseline_file.read_bytes()


def test_seal_event_counts(make_project: MakeTree) -> None:
    project = make_project()
    report = seal(project, load_config(project.config_file), jobs=1)
    assert report.event["files"] == 4 and report.event["symlinks"] == 0
    line = project.log_file.read_bytes().splitlines()[0]
    assert json.loads(line) == report.event


NO_PROBE = '[seal]\npaths = ["src/**"]\n'


def test_seal_without_a_probe_is_refused(make_project: MakeTree, invoke) -> None:
    """Issue 10 #2: sealing with no probe succeeded; every observation then said STABLE with an
    empty `why:`, and adding a probe later was an INCIDENT."""
    project = make_project(config=NO_PROBE)
    result = invoke("--project", str(project.root), "seal")
    assert (result.exit_code, result.stdout) == (78, "")
    assert result.stderr == (
        f"sealguard: {project.config_file}:1: seal: no [[probe]] is configured, so observation "
        "would watch files only; add a [[probe]] (README: Probes), or set `files_only = true` "
        "in [seal] if that is what you mean\n"
    )
    assert sorted(p.name for p in project.governance.iterdir()) == ["sealguard.toml"]


def test_seal_files_only_says_who_escalations_would_reach(make_project: MakeTree, invoke) -> None:
    project = make_project(
        config=NO_PROBE
        + 'files_only = true\n[channels.email]\nhost = "h"\nfrom = "s@x"\nto = ["a@x"]\n'
    )
    result = invoke("--project", str(project.root), "seal")
    assert result.exit_code == 0, result.output
    assert "files only: no probe watches the build's behaviour" in result.stdout
    assert (
        "warning: an INCIDENT would reach nobody: none of its channels (pagerduty, slack) is "
        "configured in [channels.*] (README: Escalation)\n"
    ) in result.stdout
    assert "DRIFT would reach nobody" not in result.stdout  # email reaches both drifts
