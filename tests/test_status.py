"""The status of observation as data: the state and the open escalations, from one read."""

from pathlib import Path

from sealguard.config import load_config
from sealguard.demo import _sealed_copy
from sealguard.observe.observation import observe
from sealguard.observe.status import status


def test_a_drift_freezes_and_leaves_its_escalation_open(tmp_path: Path) -> None:
    project = _sealed_copy(tmp_path / "fuelcalc")
    config = load_config(project.config_file)
    assert status(project, config).state.mode == "OBSERVING"
    (project.root / "data/reserve.json").write_text('{"reserve_kg": 1000}')
    drift = observe(project, config, 1)
    found = status(project, config)
    assert (found.state.mode, found.state.because) == ("FROZEN", drift.event.event_id)
    assert [e.event_id for e in found.open_escalations] == [drift.event.event_id]


def test_an_unreadable_log_is_halted_with_no_escalation(tmp_path: Path) -> None:
    project = _sealed_copy(tmp_path / "fuelcalc")
    config = load_config(project.config_file)
    project.log_file.write_text("not json\n")
    found = status(project, config)
    assert found.state.mode == "HALTED" and found.state.log_lost
    assert found.open_escalations == []
