"""The config in force once sealed is the text the seal journaled (issue 8, B13)."""

import json
from pathlib import Path

from sealguard.ledger import read_events
from sealguard.project import Project
from sealguard.seal.settings import config_in_force

from .probe_projects import cat_project


def _status(invoke, project: Project) -> str:  # type: ignore[no-untyped-def]
    return invoke("--project", str(project.root), "status").output


def test_a_broken_sealed_config_is_an_incident_not_silence(tmp_path: Path, invoke) -> None:
    """Before: `observe`, `status`, `verify` and `log verify` all exited 78 and nothing was
    journaled."""
    project = cat_project(tmp_path)
    project.config_file.write_text(project.config_file.read_text() + "\n[[[ not toml\n")
    at = ("--project", str(project.root))
    verified = invoke(*at, "verify")
    assert verified.exit_code == 3, verified.output
    assert "governance/sealguard.toml" in verified.output
    assert invoke(*at, "log", "verify").exit_code == 0  # the log itself is intact
    observed = invoke(*at, "observe", "--json")
    assert observed.exit_code == 3, observed.output
    event = json.loads(observed.output)
    assert event["classification"] == "INCIDENT"
    assert [v["path"] for v in event["invariants_before"]] == ["governance/sealguard.toml"]
    assert "HALTED" in _status(invoke, project)
    journaled = [e for e in read_events(project.log_file) if e["type"] == "runtime_event"]
    assert journaled[-1]["event_id"] == event["event_id"]


def test_an_edited_config_cannot_reroute_the_escalation(tmp_path: Path, invoke) -> None:
    project = cat_project(tmp_path, name="rerouted")
    sealed_rows = config_in_force(project).escalation.INCIDENT.channels
    edited = project.config_file.read_text() + (
        '\n[escalation.INCIDENT]\nchannels = []\ndeadline = "30d"\n'
    )
    project.config_file.write_text(edited)
    assert invoke("--project", str(project.root), "observe").exit_code == 3
    created = [e for e in read_events(project.log_file) if e["type"] == "escalation_created"]
    assert created[-1]["channels"] == sealed_rows == ["pagerduty", "slack"]
    assert created[-1]["deadline"] == "0s"


def test_before_sealing_the_file_is_the_config(tmp_path: Path, make_project) -> None:
    project = make_project()
    assert config_in_force(project).seal.paths == ["src/**", "tests/**", "package.json"]


def test_a_log_sealed_without_the_copy_falls_back_to_the_manifest(tmp_path: Path) -> None:
    project = cat_project(tmp_path, name="old")
    lines = project.log_file.read_bytes().splitlines(keepends=True)
    assert b"config_sha256" in lines[0]
    project.config_file.write_text("broken = [")
    # as sealguard 0.1 left it: no copy named in the log (the log is rewritten, so only the
    # settings are asked here, not verify)
    project.log_file.write_bytes(lines[0].replace(b'"config_sha256"', b'"config_sha25x"'))
    config = config_in_force(project)
    assert config.seal.paths == ["src/**"] and config.probe == []


def test_an_edited_sealed_copy_is_not_acted_on(tmp_path: Path, invoke) -> None:
    project = cat_project(tmp_path, name="copy")
    copy = project.governance / "baseline" / "_sealguard.toml"
    assert copy.read_bytes() == project.config_file.read_bytes()
    copy.write_text(copy.read_text() + '\n[escalation.INCIDENT]\nchannels = []\ndeadline = "30d"\n')
    assert config_in_force(project).probe == []  # the manifest's paths, default matrix
    result = invoke("--project", str(project.root), "verify")
    assert result.exit_code == 3 and "governance/baseline/_sealguard.toml" in result.output
