"""The observation commands through the CLI: observe, status, show, diff, diagnose, watch, schema."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sealguard.demo import _sealed_copy
from sealguard.ledger import read_events
from sealguard.project import Project

from .ledger_helpers import audit


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return _sealed_copy(tmp_path / "fuelcalc")


def _observe_json(invoke, project: Project) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    result = invoke("--project", str(project.root), "observe", "--json")
    return result.exit_code, json.loads(result.output)


def test_observe_status_show_diff_diagnose(project: Project, invoke) -> None:
    code, stable = _observe_json(invoke, project)
    assert code == 0 and stable["classification"] == "STABLE"
    (project.root / "data/reserve.json").write_text('{"reserve_kg": 1000}')
    result = invoke("--project", str(project.root), "observe")
    assert result.exit_code == 2 and result.output.startswith("PRODUCT_DRIFT (major): RTE_")
    event_id = result.output.split()[2]
    status = invoke("--project", str(project.root), "status", "--json")
    data = json.loads(status.output)
    assert data["state"] == "FROZEN" and data["because"] == event_id
    assert [e["classification"] for e in data["recent"]] == ["STABLE", "PRODUCT_DRIFT"]
    text = invoke("--project", str(project.root), "status").output
    assert text.startswith("state: FROZEN since ") and "an Architect must decide" in text
    shown = invoke("--project", str(project.root), "show", event_id, "--json")
    assert json.loads(shown.output)["event_id"] == event_id
    diff = invoke("--project", str(project.root), "diff", event_id).output
    assert (
        "-LFPG-EGLL        344     2.6      2140" in diff
        and "+LFPG-EGLL        344     2.6      1940" in diff
    )
    assert (
        "(identical)" in invoke("--project", str(project.root), "diff", stable["event_id"]).output
    )
    diagnosis = invoke("--project", str(project.root), "diagnose", event_id).output
    assert "[x] a valid RUNTIME_EVENT.json? yes" in diagnosis
    assert "[x] the governance log append-only (never modified)? yes" in diagnosis
    assert "-> PD-07 PRODUCT_DRIFT [fuel-table]" in diagnosis
    refused = invoke("--project", str(project.root), "observe")
    assert refused.exit_code == 4 and "observation is FROZEN" in refused.stderr


def test_unknown_event_is_a_usage_error(project: Project, invoke) -> None:
    result = invoke("--project", str(project.root), "show", "RTE_20990101_000000_deadbeef")
    assert result.exit_code == 64 and "no observation RTE_20990101_000000_deadbeef" in result.stderr


def test_schema_event_prints_the_shipped_schema(invoke) -> None:
    result = invoke("schema", "event")
    schema = json.loads(result.output)
    assert result.exit_code == 0 and schema["title"] == "sealguard RUNTIME_EVENT"
    assert "RuntimeEvent" in schema["$defs"]


def test_watch_observes_then_only_reports_once_frozen(project: Project, invoke) -> None:
    (project.root / "data/reserve.json").write_text('{"reserve_kg": 1}')
    result = invoke("--project", str(project.root), "watch", "--every", "0s", "--count", "3")
    assert result.exit_code == 2  # it ended while FROZEN
    assert result.output.count("PRODUCT_DRIFT (major)") == 1
    assert result.output.count("watch: not observing.") == 2
    types = [e["type"] for e in read_events(project.log_file)]
    assert types.count("runtime_event") == 1 and "observation_refused" not in types


def test_watch_rejects_a_bad_interval(project: Project, invoke) -> None:
    result = invoke("--project", str(project.root), "watch", "--every", "soon")
    assert result.exit_code == 64 and "--every" in result.stderr


def test_sigterm_stops_watch_between_observations(project: Project) -> None:
    watcher = subprocess.Popen(
        [sys.executable, "-m", "sealguard", "--project", str(project.root), "watch", "--every", "1h"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        e["type"] == "runtime_event"
        for e in (read_events(project.log_file) if project.log_file.exists() else [])
    ):
        time.sleep(0.05)
    watcher.send_signal(signal.SIGTERM)
    out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 143, err
    assert out.rstrip().endswith("watch: stopped by signal SIGTERM between observations")
    assert audit(
        project.ledger(
            __import__("sealguard.config", fromlist=["x"]).load_config(project.config_file)
        )
    ).intact


def test_a_snapshot_altered_later_is_inv_d_07(project: Project, invoke) -> None:
    code, event = _observe_json(invoke, project)
    assert code == 0 and event["snapshot"]
    kept = project.root / event["snapshot"]["path"] / "fuel-table" / "stdout.txt"
    kept.write_text(kept.read_text().replace("2140", "2141"))
    result = invoke("--project", str(project.root), "verify", "--json")
    found = {(d["invariant"], d["path"]) for d in json.loads(result.output)["differences"]}
    shown = f"{event['snapshot']['path']}/fuel-table/stdout.txt"
    assert result.exit_code == 3 and found == {("INV-D-04", shown), ("INV-D-07", shown)}
