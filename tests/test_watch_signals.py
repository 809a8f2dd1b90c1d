"""`watch` ends as a person or a supervisor expects: a stop signal stops the probe under way at
once (its whole process tree), nothing half-done is journaled, and the exit status says why it
ended (130 SIGINT, 143 SIGTERM; 2 or 3 when observation froze or halted)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.demo import _sealed_copy
from sealguard.ledger import read_events
from sealguard.observe.observation import observe
from sealguard.project import Project
from sealguard.seal.verify import verify

from .ledger_helpers import audit

# A probe that starts a long child and waits for it; the child says who it is first.
SLOW_PROBE = """#!/bin/sh
sleep 600 &
echo $! > "{pidfile}"
wait
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return _sealed_copy(tmp_path / "fuelcalc")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _stop_watch_during_a_probe(project: Project, tmp_path: Path, sig: int) -> tuple[int, str, int]:
    probe = project.root / "tools/fuel-probe"
    original = probe.read_bytes()
    pidfile = tmp_path / "child.pid"
    probe.write_text(SLOW_PROBE.format(pidfile=pidfile))
    watcher = subprocess.Popen(
        [sys.executable, "-m", "sealguard", "--project", str(project.root), "watch", "--every", "1h"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert watcher.poll() is None, watcher.communicate()
            time.sleep(0.01)
        child = int(pidfile.read_text())
        watcher.send_signal(sig)
        out, err = watcher.communicate(timeout=60)  # the probe alone would run 600 s
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    probe.write_bytes(original)
    return watcher.returncode, out + err, child


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_during_a_probe_stops_it_at_once(
    project: Project, tmp_path: Path, sig: int, code: int
) -> None:
    before = len(read_events(project.log_file))
    returncode, said, child = _stop_watch_during_a_probe(project, tmp_path, sig)
    assert returncode == code, said
    name = signal.Signals(sig).name
    assert f"watch: stopped by signal {name} during an observation" in said, said
    assert not _alive(child)
    events = read_events(project.log_file)[before:]
    assert [e["type"] for e in events if e["type"] == "runtime_event"] == []
    config = load_config(project.config_file)
    assert audit(project.ledger(config)).intact
    assert verify(project, config, 1).intact
    assert observe(project, config, 1).event.classification == "STABLE"  # nothing half-done


def _watch(invoke, project: Project, count: int):  # type: ignore[no-untyped-def]
    return invoke("--project", str(project.root), "watch", "--every", "0s", "--count", str(count))


def test_watch_ended_while_frozen_exits_with_the_class_that_froze_it(
    project: Project, invoke
) -> None:
    (project.root / "data/reserve.json").write_text('{"reserve_kg": 1000}')
    assert _watch(invoke, project, 1).exit_code == 2
    assert _watch(invoke, project, 2).exit_code == 2  # rounds that only report the state


def test_watch_ended_while_halted_exits_3(project: Project, invoke) -> None:
    source = project.root / "src/fuelcalc/fuel.py"
    source.write_text(source.read_text() + "\n# hot-fix\n")
    assert _watch(invoke, project, 1).exit_code == 3
    assert _watch(invoke, project, 1).exit_code == 3


def test_watch_of_a_stable_project_exits_0(project: Project, invoke) -> None:
    assert _watch(invoke, project, 2).exit_code == 0


def test_a_stop_requested_between_probes_starts_no_other(tmp_path: Path) -> None:
    from sealguard.proc import Interrupted, interruption, run_to_files

    interruption.request(signal.SIGTERM)  # no probe under way: only noted
    try:
        with pytest.raises(Interrupted):
            run_to_files(
                ["sh", "-c", "echo started > started.txt"], tmp_path, os.environ,
                (tmp_path / "out.txt", tmp_path / "err.txt"), timeout=10,
            )  # fmt: skip
    finally:
        interruption.clear()
    assert not (tmp_path / "started.txt").exists()
