"""The history benchmark's builder (benchmarks/history.py) writes what sealguard itself writes.

The benchmark times commands against a history built in bulk; were the builder to drift from
the real format, it would time a history sealguard never makes. So a built history must pass
`verify` and `log verify`, the next real observation must be STABLE, and the builder must stop
when a real observation no longer looks like what it would write.
"""

import dataclasses
import importlib.util
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "history.py"


@pytest.fixture(scope="module")
def history() -> ModuleType:
    spec = importlib.util.spec_from_file_location("history_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _sealguard(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "sealguard", "--project", str(project), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_a_built_history_verifies_and_the_next_observation_is_stable(
    history: ModuleType, tmp_path: Path
) -> None:
    # end the history at 00:58 UTC, today's or (before 01:00) yesterday's, so that its 30
    # observations (2.5 h) cross a UTC midnight: two days, so two daily snapshots
    now = (datetime.now(UTC) - timedelta(hours=1)).replace(hour=0, minute=59, second=0)
    project = history.build(tmp_path / "n30", 30, now=now).root

    checked = _sealguard(project, "verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    log = _sealguard(project, "log", "verify", "--json")
    assert log.returncode == 0, log.stdout + log.stderr
    # the seal, 28 plain observations of 3 lines, 2 daily ones of 11 (their snapshots' files
    # journaled): 107 lines; one checkpoint for the seal and one per observation
    report = json.loads(log.stdout)
    assert (report["lines"], report["checkpoints"]) == (1 + 28 * 3 + 2 * 11, 31)
    snapshots = sorted(p.name for p in (project / "governance/runtime/snapshots").iterdir())
    assert len(snapshots) == 2 and snapshots[0][4:12] != snapshots[1][4:12]
    events = sorted(p.name for p in (project / "governance/runtime/events").rglob("RTE_*.json"))
    assert len(events) == 30  # in a folder per UTC day
    days = {p.name for p in (project / "governance/runtime/events").iterdir()}
    assert days == {s[4:12] for s in snapshots}

    observed = _sealguard(project, "observe", "--json")
    assert observed.returncode == 0, observed.stdout + observed.stderr
    assert json.loads(observed.stdout)["classification"] == "STABLE"
    # its checkpoint grew the tree the builder's cache handed the writer: still intact
    after = _sealguard(project, "log", "verify")
    assert after.returncode == 0, after.stdout + after.stderr
    # sealed before the first observation, as if back then
    state = json.loads(_sealguard(project, "status", "--json").stdout)
    first = datetime.strptime(events[0][4:19], "%Y%m%d_%H%M%S").replace(tzinfo=UTC)
    assert state["state"] == "OBSERVING" and _moment(state["since"]) < first


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _tampered(observed: object, index: int, old: bytes, new: bytes) -> object:
    lines = list(observed.lines)  # type: ignore[attr-defined]
    assert old in lines[index]
    lines[index] = lines[index].replace(old, new)
    return dataclasses.replace(observed, lines=tuple(lines))  # type: ignore[type-var]


def test_the_builder_stops_when_observe_writes_otherwise(
    history: ModuleType, tmp_path: Path
) -> None:
    project = history.make_product(tmp_path / "product")
    shape = history.capture_shape(project, tmp_path / "shape")
    scratch = history.Project(tmp_path / "shape")
    history.check_shape(scratch, shape)  # the real observations, rebuilt byte for byte
    # a field a future runtime_file record might carry, which the builder does not write
    drifted = _tampered(shape.plain, 1, b'{"path"', b'{"mtime_ns":1,"path"')
    with pytest.raises(history.BenchError, match="no longer writes what `observe` writes"):
        history.check_shape(scratch, dataclasses.replace(shape, plain=drifted))
    # a different event file for the same event (the runtime_file records its SHA-256)
    event_file = scratch.event_file(shape.daily.data["event_id"])
    event_file.write_bytes(event_file.read_bytes() + b"\n")
    with pytest.raises(history.BenchError, match="otherwise than `observe` does"):
        history.check_shape(scratch, shape)
