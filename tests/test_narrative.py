"""What `show`, `diff`, `diagnose` and `status` say about an observation, through the CLI, on a
real pytest project: each leads with the cause of its class, and no list is cut silently."""

import json
import re
from pathlib import Path

import pytest

from sealguard.project import Project

from .probe_projects import pytest_project, set_data

SIXTEEN = """\
import sys, pathlib
import pytest
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "src"))
from calc import add


@pytest.mark.parametrize("n", range(16))
def test_identity(n):
    assert add(n, 0) == n
"""


def _observe(invoke, project: Project) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    """(exit code, event id, text) of one observation."""
    result = invoke("--project", str(project.root), "observe")
    return result.exit_code, result.stdout.split()[2].rstrip(","), result.stdout


def _run(invoke, project: Project, *args: str) -> str:  # type: ignore[no-untyped-def]
    result = invoke("--project", str(project.root), *args)
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


def _drop_report(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on a pytest plugin deletes the JUnit report once the run is over: the tooling
    failed, every test passed."""
    plugins = base / "plugins"
    plugins.mkdir()
    (plugins / "drop_report.py").write_text(
        "import os\n\ndef pytest_unconfigure(config):\n    os.remove(config.option.xmlpath)\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(plugins))
    monkeypatch.setenv("PYTEST_PLUGINS", "drop_report")


def test_tooling_drift_diff_says_which_report_is_missing(
    tmp_path: Path, invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = pytest_project(tmp_path)
    _drop_report(tmp_path, monkeypatch)
    code, event_id, _ = _observe(invoke, project)
    assert code == 1
    text = _run(invoke, project, "diff", event_id)
    lines = text.splitlines()
    assert lines[0] == f"diff of {event_id} (TOOLING_DRIFT) with the baseline"
    assert lines[1].startswith("cause: TD-01 [unit] the report is missing")
    assert "the junit-xml report is missing: the report file was not written" in text
    assert "the console: 3 passed, 0 failed, 0 errors" in text
    assert '"tag": "testsuites"' not in text  # the baseline's report is not dumped as removed
    assert len(lines) < 20, text
    # the snapshot's diff.txt (what the escalation carries) says the same
    kept = next(project.runtime.glob("snapshots/SNP_*/unit/diff.txt")).read_text()
    assert "cause: TD-01 TOOLING_DRIFT" in kept and '"tag": "testsuites"' not in kept


def test_tooling_drift_diagnosis_leads_with_the_missing_report(
    tmp_path: Path, invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = pytest_project(tmp_path)
    _drop_report(tmp_path, monkeypatch)
    _, event_id, _ = _observe(invoke, project)
    lines = _run(invoke, project, "diagnose", event_id).splitlines()
    assert lines[0] == f"diagnosis of {event_id} (TOOLING_DRIFT)"
    assert lines[1].startswith("cause: TD-01 [unit] the report is missing")
    assert (
        "[ ] the report readable (unit)? NO: the junit-xml report is missing: "
        "the report file was not written"
    ) in lines
    assert "[x] the sealed files unchanged (INV-D-02)? yes" in lines


def test_incident_diff_and_diagnosis_name_the_changed_files(tmp_path: Path, invoke) -> None:
    project = pytest_project(tmp_path)
    (project.root / "src/calc/__init__.py").write_text("changed\n")
    (project.root / "tests/test_new.py").write_text("def test_new():\n    pass\n")
    code, event_id, _ = _observe(invoke, project)
    assert code == 3
    text = _run(invoke, project, "diff", event_id)
    lines = text.splitlines()
    assert lines[0] == f"diff of {event_id} (INCIDENT) with the baseline"
    assert lines[1].startswith("cause: INC-01 INV-D-02: ")
    assert "invariants violated before the probes (2):" in lines
    assert any(
        line.startswith("  INV-D-02 modified src/calc/__init__.py: content changed")
        for line in lines
    )
    assert any(line.startswith("  INV-D-02 added tests/test_new.py") for line in lines)
    assert "probes: not run (an invariant was already violated before them)" in lines
    assert "(no probe ran in this observation)" not in text
    diagnosis = _run(invoke, project, "diagnose", event_id).splitlines()
    assert diagnosis[1].startswith("cause: INC-01 INV-D-02: ")
    assert "[ ] the sealed files unchanged (INV-D-02)? NO: 2 changed" in diagnosis
    assert any(line.startswith("      modified src/calc/__init__.py") for line in diagnosis)
    assert any(line.startswith("      added tests/test_new.py") for line in diagnosis)
    assert "[x] the baseline unchanged (INV-D-01)? yes" in diagnosis
    # the incident is open since the moment of the observation that found it, as its id says
    at = _run(invoke, project, "show", event_id).split(" at ", 1)[1].split(",", 1)[0]
    status = _run(invoke, project, "status")
    assert re.search(rf"^open incident: INC_{event_id[4:19]}_\w+ since {at}, ", status, re.M)


def test_show_leads_with_the_cause(tmp_path: Path, invoke) -> None:
    project = pytest_project(tmp_path)
    (project.root / "src/calc/__init__.py").write_text("changed\n")
    _, event_id, _ = _observe(invoke, project)
    lines = _run(invoke, project, "show", event_id).splitlines()
    assert lines[0].startswith(f"INCIDENT (critical): {event_id} at ")
    assert lines[1] == "why:" and lines[2].startswith("  INC-01 INV-D-02: modified src/calc/")


def test_every_cut_list_says_how_many_were_left_out(tmp_path: Path, invoke) -> None:
    project = pytest_project(tmp_path, extra={"tests/test_sixteen.py": SIXTEEN})
    set_data(project, offset=1)  # every test of add() fails: 3 + 16 status changes
    code, event_id, observed = _observe(invoke, project)
    assert code == 2
    for text in (observed, _run(invoke, project, "show", event_id)):
        block = text.split("\nchanged:\n", 1)[1].split("\n")
        shown = [line for line in block if line.startswith("  unit: ")]
        assert len(shown) == 10
        assert block[10] == f"  … +9 more (all of them: sealguard diff {event_id})"


def test_status_shows_each_observation_at_the_moment_of_its_id(tmp_path: Path, invoke) -> None:
    project = pytest_project(tmp_path)
    set_data(project, offset=1)
    _, event_id, observed = _observe(invoke, project)
    moment = re.search(r" at (\S+), commit", observed)
    assert moment is not None
    at = moment[1]  # the observed_at of the event, e.g. 2026-11-27T03:48:34Z
    assert at.replace("-", "").replace(":", "").replace("T", "_")[:15] == event_id[4:19]
    text = _run(invoke, project, "status")
    assert f"  {at} {event_id} PRODUCT_DRIFT" in text.splitlines()
    assert text.startswith(f"state: FROZEN since {at} ({event_id}: ")
    data = json.loads(_run(invoke, project, "status", "--json"))
    assert data["since"] == at
    (recent,) = data["recent"]
    assert recent["observed_at"] == at and recent["event_id"] == event_id
    assert recent["classification"] == "PRODUCT_DRIFT"
    assert recent["ts"] >= at  # the journal time, kept for scripts written before 0.3
