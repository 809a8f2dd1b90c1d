"""observe, end to end with a real pytest project: each class induced as it happens in the wild."""

import json
import os
import tarfile
from pathlib import Path

import jsonschema
import pytest

from sealguard.config import load_config
from sealguard.errors import RefusedError
from sealguard.events import event_schema
from sealguard.ledger import read_events
from sealguard.observe.observation import Observation, observe
from sealguard.project import Project
from sealguard.seal.verify import verify

from .probe_projects import pytest_project, set_data


def run(project: Project) -> Observation:
    return observe(project, load_config(project.config_file), jobs=1)


def matched(observation: Observation) -> list[str]:
    return [s.rule for s in observation.event.why if s.matched]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return pytest_project(tmp_path)


def test_the_baseline_holds_the_behaviour(project: Project) -> None:
    meta = json.loads((project.governance / "baseline/unit/probe.json").read_text())
    assert meta["verdict"] == "PASS" and meta["test_count"] == 3
    assert meta["tests"]["tests.test_calc::test_add"] == "passed"
    manifest = project.baseline_file.read_text()
    assert (
        "governance/baseline/unit/probe.json" in manifest
        and "governance/sealguard.toml" in manifest
    )


def test_three_unchanged_runs_are_stable_with_one_hash(project: Project) -> None:
    observations = [run(project) for _ in range(3)]
    assert [o.event.classification for o in observations] == ["STABLE"] * 3
    hashes = {o.event.probes[0].output_sha256 for o in observations}
    assert hashes == {observations[0].event.probes[0].baseline_output_sha256}
    assert observations[0].event.snapshot is not None  # the day's snapshot
    assert observations[1].event.snapshot is None and observations[2].event.snapshot is None
    assert all(o.exit_code == 0 for o in observations)
    report = verify(project, load_config(project.config_file), 1)
    assert report.intact, report.differences


def test_runtime_data_changes_behaviour_product_drift_freezes(project: Project) -> None:
    set_data(project, offset=1)  # data outside the sealed paths
    drift = run(project)
    assert drift.event.classification == "PRODUCT_DRIFT" and drift.exit_code == 2
    assert matched(drift) == ["PD-02"]
    assert drift.event.state_after == "FROZEN"
    snapshot = project.root / drift.event.snapshot.path  # type: ignore[union-attr]
    diff = (snapshot / "unit/diff.txt").read_text()
    assert "tests.test_calc::test_add: passed -> failed" in diff
    archive = project.root / drift.event.export  # type: ignore[operator]
    with tarfile.open(archive) as tar:
        assert "GOVERNANCE_LOG.ndjson" in tar.getnames()
    set_data(project)  # even with the data back, nothing observes until a human decides
    with pytest.raises(RefusedError, match="observation is FROZEN") as refused:
        run(project)
    assert refused.value.exit_code == 4
    last = read_events(project.log_file)[-1]
    assert last["type"] == "observation_refused" and last["because"] == drift.event.event_id
    assert verify(project, load_config(project.config_file), 1).intact


def test_report_truncated_while_every_test_passes_is_tooling_drift(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "truncate_report.py").write_text(
        "def pytest_unconfigure(config):\n"
        "    path = config.option.xmlpath\n"
        "    data = open(path, 'rb').read()\n"
        "    open(path, 'wb').write(data[: len(data) // 2])\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(plugins))
    monkeypatch.setenv("PYTEST_PLUGINS", "truncate_report")
    observation = run(project)
    assert observation.event.classification == "TOOLING_DRIFT" and observation.exit_code == 1
    assert matched(observation) == ["TD-01"]
    assert observation.event.state_after == "OBSERVING"
    probe = observation.event.probes[0]
    assert probe.report_state == "unparseable" and probe.console == {
        "passed": 3,
        "failed": 0,
        "errors": 0,
        "skipped": 0,
    }
    kept = project.root / observation.event.snapshot.path / "unit"  # type: ignore[union-attr]
    assert (kept / "report.xml").exists() and "3 passed" in (kept / "stdout.txt").read_text()
    monkeypatch.delenv("PYTEST_PLUGINS")
    assert run(project).event.classification == "STABLE"  # observation went on


def test_report_path_unwritable_is_tooling_drift(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    (plugins / "move_report.py").write_text(
        f"def pytest_configure(config):\n    config.option.xmlpath = {str(blocker / 'junit.xml')!r}\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(plugins))
    monkeypatch.setenv("PYTEST_PLUGINS", "move_report")
    observation = run(project)
    assert observation.event.classification == "TOOLING_DRIFT", observation.event.why
    assert matched(observation) == ["TD-06"]


def test_runner_uninstalled_is_tooling_drift(project: Project) -> None:
    next((project.root / "tool/lib").glob("python3*/site-packages/runner.pth")).unlink()
    observation = run(project)
    assert observation.event.classification == "TOOLING_DRIFT"
    assert matched(observation) == ["TD-03"]
    assert "no-module-pytest" in observation.event.probes[0].signatures


def test_a_hang_past_the_timeout_is_product_drift(tmp_path: Path) -> None:
    project = pytest_project(tmp_path, timeout="8s")  # a loaded machine seals pytest in > 3 s
    set_data(project, hang=True)
    observation = run(project)
    assert observation.event.classification == "PRODUCT_DRIFT"
    assert matched(observation) == ["PD-01"]
    assert (
        observation.event.probes[0].timed_out and observation.event.probes[0].duration_ms < 30_000
    )


def test_an_edited_sealed_file_is_an_incident_and_nothing_runs(project: Project) -> None:
    source = project.root / "src/calc/__init__.py"
    source.write_text(source.read_text().replace("a + b", "a + b + 0"))
    observation = run(project)
    assert observation.event.classification == "INCIDENT" and observation.exit_code == 3
    assert matched(observation) == ["INC-01"]
    assert not observation.event.probes_run and observation.event.state_after == "HALTED"
    assert observation.event.invariants_before[0].path == "src/calc/__init__.py"
    assert (
        observation.event.export is not None and (project.root / observation.event.export).exists()
    )
    with pytest.raises(RefusedError, match="observation is HALTED"):
        run(project)


def test_a_probe_writing_into_sealed_paths_is_an_incident(project: Project) -> None:
    set_data(project, write="src/calc/cache.txt")
    observation = run(project)
    assert observation.event.classification == "INCIDENT"
    assert "INC-02" in matched(observation)
    assert observation.event.invariants_after[0].path == "src/calc/cache.txt"


def test_event_file_matches_the_log_and_the_shipped_schema(project: Project) -> None:
    set_data(project, offset=5)
    observation = run(project)
    event_file = project.event_file(observation.event.event_id)
    data = json.loads(event_file.read_text())
    shipped = json.loads(
        (Path(__file__).parents[1] / "src/sealguard/schemas/event.schema.json").read_text()
    )
    assert shipped == json.loads(
        json.dumps(event_schema())
    )  # the shipped schema is the generated one
    jsonschema.validate(data, shipped)
    logged = next(e for e in read_events(project.log_file) if e.get("event_id") == data["event_id"])
    assert {k: v for k, v in logged.items() if k not in ("seq", "ts", "type")} == data
    assert os.path.getsize(event_file) > 0


def test_a_huge_stdout_is_streamed_and_hashed_whole(tmp_path: Path) -> None:
    """100 MB of output: memory stays bounded, and the whole stream is hashed."""
    import hashlib
    import resource
    import sys

    from .conftest import write_tree

    line = "x" * 999 + "\n"
    count = 100_000
    script = f"import sys\nline = {line!r}\nfor _ in range({count}):\n    sys.stdout.write(line)\n"
    root = tmp_path / "loud"
    write_tree(root, {"src/loud.py": script})
    config = (
        '[seal]\npaths = ["src/**"]\n\n[[probe]]\nname = "loud"\n'
        f'command = [{json.dumps(sys.executable)}, "src/loud.py"]\nreport = "text"\ntimeout = "2m"\n'
    )
    write_tree(root, {"governance/sealguard.toml": config})
    project = Project(root)
    from sealguard.seal.sealing import seal

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seal(project, load_config(project.config_file), jobs=1)
    observation = run(project)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert observation.event.classification == "STABLE"
    assert (
        observation.event.probes[0].stdout_sha256
        == hashlib.sha256((line * count).encode()).hexdigest()
    )
    assert grown_mib < 64, f"memory grew by {grown_mib:.0f} MiB for 100 MB of output"
