"""What observe does when the project is frozen, or when a probe attacks the runtime area
(issue 8, B8 and B12): the invariants are checked all the same, and a violation is an INCIDENT."""

import json
import os
from pathlib import Path

from sealguard.ledger import read_events
from sealguard.project import Project

from .probe_projects import cat_project


def _observe(invoke, project: Project) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    result = invoke("--project", str(project.root), "observe", "--json")
    return result.exit_code, (json.loads(result.output) if result.output.startswith("{") else {})


def test_a_sealed_file_edited_while_frozen_halts(tmp_path: Path, invoke) -> None:
    """Before: `observe` exited 4 (refused), `status` still said FROZEN, nothing journaled."""
    project = cat_project(tmp_path)
    (project.root / "data" / "value.txt").write_text("43\n")
    code, event = _observe(invoke, project)
    assert code == 2 and event["state_after"] == "FROZEN"
    (project.root / "src" / "app.py").write_text("print('hot fix')\n")
    code, event = _observe(invoke, project)
    assert code == 3, event
    assert event["classification"] == "INCIDENT" and event["state_before"] == "FROZEN"
    assert event["state_after"] == "HALTED" and event["probes_run"] is False
    assert [v["path"] for v in event["invariants_before"]] == ["src/app.py"]
    status = invoke("--project", str(project.root), "status")
    assert "HALTED" in status.output
    events = read_events(project.log_file)
    refused = [e for e in events if e["type"] == "observation_refused"]
    assert refused and refused[-1]["invariants_violated"] == 1
    escalated = [e for e in events if e["type"] == "escalation_created"]
    assert [e["classification"] for e in escalated] == ["PRODUCT_DRIFT", "INCIDENT"]


def test_while_frozen_with_intact_invariants_observe_is_refused(tmp_path: Path, invoke) -> None:
    project = cat_project(tmp_path)
    (project.root / "data" / "value.txt").write_text("43\n")
    assert _observe(invoke, project)[0] == 2
    result = invoke("--project", str(project.root), "observe")
    assert result.exit_code == 4
    assert "the invariants were checked and hold" in result.output
    refused = [e for e in read_events(project.log_file) if e["type"] == "observation_refused"]
    assert refused[-1]["invariants_violated"] == 0


def test_halted_stays_halted_and_says_what_it_found(tmp_path: Path, invoke) -> None:
    project = cat_project(tmp_path)
    (project.root / "src" / "app.py").write_text("print('hot fix')\n")
    assert _observe(invoke, project)[0] == 3
    result = invoke("--project", str(project.root), "observe")
    assert result.exit_code == 4
    assert "found 1 violation(s)" in result.output


def test_a_probe_that_deletes_the_runtime_area_is_an_incident(tmp_path: Path, invoke) -> None:
    """Before: exit 70 (an unexpected error). Now: INCIDENT, the log's loss named."""
    project = cat_project(tmp_path, script="rm -rf governance/runtime")
    code, event = _observe(invoke, project)
    assert code == 3, event
    reasons = " ".join(f"{v['invariant']} {v['detail']}" for v in event["invariants_after"])
    assert "INV-D-03 the governance log is gone" in reasons
    assert "HALTED" in invoke("--project", str(project.root), "status").output
    verified = invoke("--project", str(project.root), "verify")
    assert verified.exit_code == 3


def test_a_log_replaced_by_a_symlink_is_not_followed_by_observe(tmp_path: Path, invoke) -> None:
    project = cat_project(tmp_path)
    elsewhere = tmp_path / "elsewhere.ndjson"
    elsewhere.write_bytes(project.log_file.read_bytes())
    project.log_file.unlink()
    os.symlink(elsewhere, project.log_file)
    before = elsewhere.read_bytes()
    code, _ = _observe(invoke, project)
    assert code == 3
    assert elsewhere.read_bytes() == before  # nothing written through the link


def test_one_forged_line_does_not_blind_observe(tmp_path: Path, invoke) -> None:
    """Found in review: a line appended to the log by hand made every later append refuse, so
    `observe` exited 3 with nothing journaled and nothing escalated. Now the INCIDENT goes out
    at once, outside the outbox, to the INCIDENT row's channels."""
    from .receivers import HttpReceiver

    http = HttpReceiver().start()
    try:
        project = cat_project(
            tmp_path,
            name="blinded",
            extra=(
                f'\n[channels.webhook]\nurl = "{http.url("/hook")}"\n'
                '\n[escalation.INCIDENT]\nchannels = ["webhook"]\ndeadline = "0s"\n'
            ),
        )
        with project.log_file.open("ab") as log:
            log.write(b'{"type":"evil"}\n')
        result = invoke("--project", str(project.root), "observe")
        assert result.exit_code == 3, result.output
        assert "INCIDENT, not journaled: the governance log refuses appends" in result.output
        assert "webhook delivered" in result.output
        [body] = http.bodies("/hook")
        assert body["classification"] == "INCIDENT"
        assert "not journaled" in json.dumps(body)
    finally:
        http.stop()
