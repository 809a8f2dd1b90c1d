"""The dashboard's observation index: it reads only what was appended, waits for a line still
being written, and starts again from the first byte when the log is not the file it read."""

import json
import shutil
from pathlib import Path

import httpx
import pytest

from sealguard import ledger
from sealguard.errors import EvidenceWriteError
from sealguard.ledger import append
from sealguard.ledger import writer as writer_module
from sealguard.project import Project
from sealguard.serve.history import History

from .dashboards import threaded
from .decision_projects import Team, drift, governed, run
from .ledger_helpers import make_log


@pytest.fixture
def observed(tmp_path: Path, team: Team) -> Project:
    project = governed(tmp_path, team)
    assert run(project, "observe").exit_code == 0
    assert run(project, "observe").exit_code == 0
    drift(project)
    return project


def runtime_ids(log: Path) -> list[str]:
    return [str(e["event_id"]) for e in ledger.read_events(log) if e.get("type") == "runtime_event"]


def test_it_indexes_what_the_log_holds(observed: Project) -> None:
    history = History(observed.log_file).refresh()
    assert [s.event_id for s in history.seen] == runtime_ids(observed.log_file)
    assert dict(history.by_class) == {"STABLE": 2, "PRODUCT_DRIFT": 1}
    for seen in history.seen:
        assert json.loads(history.line(seen))["event_id"] == seen.event_id
    assert history.lines == len(ledger.read_events(observed.log_file))


def test_it_reads_only_whole_lines_and_then_what_follows(observed: Project, tmp_path: Path) -> None:
    data = observed.log_file.read_bytes()
    lines = data.splitlines(keepends=True)
    last = next(i for i, line in reversed(list(enumerate(lines))) if b'"runtime_event"' in line)
    copy = tmp_path / "log.ndjson"
    copy.write_bytes(b"".join(lines[:last]) + lines[last][:40])  # the observation half-written
    history = History(copy).refresh()
    assert len(history.seen) == 2 and history.read_to == len(b"".join(lines[:last]))
    with copy.open("ab") as stream:
        stream.write(lines[last][40:] + b"".join(lines[last + 1 :]))
    assert [s.event_id for s in history.refresh().seen] == runtime_ids(observed.log_file)
    assert history.lines == len(lines)


def test_a_replaced_or_shortened_log_is_read_again(observed: Project, tmp_path: Path) -> None:
    copy = tmp_path / "log.ndjson"
    shutil.copyfile(observed.log_file, copy)
    history = History(copy).refresh()
    first = list(history.seen)
    lines = copy.read_bytes().splitlines(keepends=True)
    stable_only = [line for line in lines if b'"classification":"PRODUCT_DRIFT"' not in line]
    replacement = tmp_path / "other.ndjson"
    replacement.write_bytes(b"".join(stable_only))
    replacement.replace(copy)  # another inode, same name
    assert [s.row.classification for s in history.refresh().seen] == ["STABLE", "STABLE"]
    copy.write_bytes(b"".join(lines[:3]))  # shorter, same inode
    assert history.refresh().seen == [] and history.lines == 3
    copy.unlink()
    assert history.refresh().seen == [] and history.read_to == 0
    assert first and len(first) == 3


def test_an_unreadable_line_is_passed_over(observed: Project, tmp_path: Path) -> None:
    """The index checks nothing (`log verify` does; the state shows what `status` shows)."""
    copy = tmp_path / "log.ndjson"
    shutil.copyfile(observed.log_file, copy)
    history = History(copy).refresh()
    with copy.open("ab") as stream:
        stream.write(b'{"type":"runtime_event","seq":\n')
    assert len(history.refresh().seen) == 3 and history.read_to == copy.stat().st_size


def test_a_damaged_log_is_shown_as_halted_not_an_error(observed: Project) -> None:
    with observed.log_file.open("ab") as stream:
        stream.write(b"garbage\n")
    with threaded(observed) as url:
        status = httpx.get(url + "api/status")
        metrics = httpx.get(url + "metrics")
    assert status.status_code == 200
    assert status.json()["state"] == "HALTED"
    assert "not a JSON event" in status.json()["log"]["problem"]
    assert 'sealguard_state{state="HALTED"} 1.0' in metrics.text


def test_an_unsealed_project_with_a_broken_config(tmp_path: Path, make_project) -> None:
    project = make_project()
    with threaded(project) as url:
        unsealed = httpx.get(url + "api/status").json()
        project.config_file.write_text("[seal\n")
        broken = httpx.get(url + "api/status")
    assert unsealed["state"] == "UNSEALED" and unsealed["observations"] == 0
    assert broken.status_code == 503 and "sealguard.toml" in broken.json()["error"]


def test_a_torn_tail_keeps_lines_and_observations_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write cut short leaves a fragment; the next append closes it and journals a torn_tail
    that accounts for it (tests/test_scan.py makes one the same way): every observation after
    it is still found on its own line."""
    log = make_log(tmp_path / "rt", 3)
    append(log, "runtime_event", {"event_id": "RTE_1", "classification": "STABLE"})
    real_write = writer_module.os.write
    monkeypatch.setattr(writer_module.os, "write", lambda fd, data: real_write(fd, data[:19]))
    with pytest.raises(EvidenceWriteError):
        append(log, "runtime_event", {"event_id": "RTE_lost", "classification": "STABLE"})
    monkeypatch.undo()
    history = History(log.log).refresh()
    assert [s.event_id for s in history.seen] == ["RTE_1"]  # the fragment waits for its line end
    append(log, "runtime_event", {"event_id": "RTE_2", "classification": "INCIDENT"})
    append(log, "runtime_event", {"event_id": "RTE_3", "classification": "STABLE"})
    assert "torn_tail" in [e.get("type") for e in ledger.read_events(log.log)]
    history.refresh()
    assert [s.event_id for s in history.seen] == ["RTE_1", "RTE_2", "RTE_3"]
    for seen in history.seen:
        assert json.loads(history.line(seen))["event_id"] == seen.event_id
