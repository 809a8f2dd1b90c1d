"""Crashes in the middle of an observation never make a false INCIDENT (issue 8, A1).

A real `kill -9` of a real observer: a forked child running `observe` kills itself at the N-th
file it opens for writing or renames (every such point of a drift's observation, in turn), and
real `sealguard observe` processes are killed at random moments. After each crash the next
observation must account for the leftovers and never call them foreign (INV-D-04).
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.errors import RefusedError
from sealguard.ledger import read_events
from sealguard.observe.observation import observe
from sealguard.observe.status import current_state
from sealguard.project import Project
from sealguard.seal.sealing import seal
from sealguard.seal.verify import verify

from .ledger_helpers import audit
from .probe_projects import cat_project, unsealed_cat_project

_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _is_write(event: str, args: tuple[object, ...], root: str) -> bool:
    if event == "os.rename":
        return os.fsdecode(args[0]).startswith(root)  # type: ignore[arg-type]
    if event != "open" or not isinstance(args[0], str | bytes | os.PathLike):
        return False
    mode, flags = args[1], args[2]
    writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
        isinstance(flags, int) and bool(flags & _WRITES)
    )
    return writing and os.path.abspath(os.fsdecode(args[0])).startswith(root)  # type: ignore[arg-type]


def _fork_observe(
    project: Project, die_at: int | None, act: Callable[[Project], object] | None = None
) -> tuple[int, int]:
    """Observe (or `act`) in a forked child that SIGKILLs itself at its `die_at`-th write (open
    for writing, or rename) under the project; returns (writes seen, wait status)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        os.close(read_end)
        seen = [0]
        root = str(project.root)

        def hook(event: str, args: tuple[object, ...]) -> None:
            if _is_write(event, args, root):
                seen[0] += 1
                os.write(write_end, b".")
                if seen[0] == die_at:
                    os.kill(os.getpid(), signal.SIGKILL)

        sys.addaudithook(hook)
        try:
            if act is None:
                observe(project, load_config(project.config_file), jobs=1)
            else:
                act(project)
        except BaseException:
            os._exit(1)
        os._exit(0)
    os.close(write_end)
    count = 0
    while chunk := os.read(read_end, 4096):
        count += len(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    return count, status


def _assert_no_false_incident(project: Project) -> str:
    """The crash's leftovers are explained; the next observation is the drift (or is refused
    because the crashed one already froze observation), never an INCIDENT."""
    config = load_config(project.config_file)
    report = verify(project, config, 1)
    assert report.intact, report.differences
    try:  # waits, should a worker of the killed observer still be finishing its span
        klass = observe(project, config, jobs=1, wait=True).event.classification
    except RefusedError:
        klass = "refused"
    assert klass in ("PRODUCT_DRIFT", "refused"), klass
    after = verify(project, config, 1)
    assert after.intact, after.differences
    assert audit(project.ledger(config)).intact
    return klass


@pytest.fixture
def template(tmp_path: Path) -> Path:
    project = cat_project(tmp_path / "template")
    (project.root / "data" / "value.txt").write_text("43\n")  # a drift: snapshot, export, outbox
    return project.root


def _copy(template: Path, where: Path) -> Project:
    shutil.copytree(template, where, symlinks=True)
    return Project(where)


def _kill_at_writes(template: Path, tmp_path: Path, step: int) -> None:
    total, status = _fork_observe(_copy(template, tmp_path / "dry"), None)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert total > 20  # announcements, evidence, event, export, outbox, checkpoints
    leftovers = 0
    for point in range(1, total + 1, step):
        project = _copy(template, tmp_path / f"crash{point}")
        _, status = _fork_observe(project, point)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        _assert_no_false_incident(project)
        events = read_events(project.log_file)
        leftovers += sum(1 for e in events if e["type"] == "runtime_leftovers")
        shutil.rmtree(project.root)
    assert leftovers > 0  # some crash points did leave files, and they were accounted for


def test_a_kill_at_every_third_write_of_an_observation_is_accounted_for(
    template: Path, tmp_path: Path
) -> None:
    """Before: orphan snapshot/event files made the next run HALT with INV-D-04 "not written
    by sealguard"; now each crash point leaves only announced files, journaled as leftovers."""
    _kill_at_writes(template, tmp_path, step=3)


@pytest.mark.slow
def test_a_kill_at_every_write_of_an_observation_is_accounted_for(
    template: Path, tmp_path: Path
) -> None:
    _kill_at_writes(template, tmp_path, step=1)


def _kill_rounds(template: Path, tmp_path: Path, rounds: int) -> dict[str, int]:
    command = [sys.executable, "-m", "sealguard", "observe"]
    started = time.perf_counter()
    dry = _copy(template, tmp_path / "timing")
    subprocess.run(command, cwd=dry.root, capture_output=True, check=False)
    duration = time.perf_counter() - started
    rng = random.Random(8)
    outcomes: dict[str, int] = {}
    for number in range(rounds):
        project = _copy(template, tmp_path / f"round{number}")
        proc = subprocess.Popen(
            command, cwd=project.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.05, duration))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        klass = _assert_no_false_incident(project)
        outcomes[klass] = outcomes.get(klass, 0) + 1
        shutil.rmtree(project.root)
    return outcomes


def test_observers_killed_at_random_moments(template: Path, tmp_path: Path) -> None:
    outcomes = _kill_rounds(template, tmp_path, rounds=6)
    assert sum(outcomes.values()) == 6


@pytest.mark.slow
def test_two_hundred_observers_killed_at_random_moments(template: Path, tmp_path: Path) -> None:
    outcomes = _kill_rounds(template, tmp_path, rounds=200)
    assert sum(outcomes.values()) == 200
    assert outcomes.get("refused", 0) > 0 and outcomes.get("PRODUCT_DRIFT", 0) > 0


def _seal(project: Project) -> object:
    return seal(project, load_config(project.config_file), jobs=1)


def test_a_kill_at_every_write_of_seal_is_never_an_incident(tmp_path: Path) -> None:
    """Found in review: a seal killed between writing BASELINE_REF.sha256 and journaling it
    left a baseline without a log: HALTED, "log lost", for ever. Now the baseline is staged,
    journaled, then renamed; a crash leaves either nothing sealed or a sealing to complete."""
    template = unsealed_cat_project(tmp_path / "template").root
    total, status = _fork_observe(_copy(template, tmp_path / "dry"), None, _seal)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and total > 5
    for point in range(1, total + 1):
        project = _copy(template, tmp_path / f"seal{point}")
        _, status = _fork_observe(project, point, _seal)
        assert os.WIFSIGNALED(status)
        assert current_state(project, project.ledger(load_config(project.config_file))).mode in (
            "UNSEALED",
            "OBSERVING",
        )
        try:
            _seal(project)  # again: completes an interrupted sealing, or seals anew
        except RefusedError as exc:  # its behaviour files were written, not journaled
            assert "governance/baseline/ already holds files" in exc.message
            shutil.rmtree(project.governance / "baseline")
            _seal(project)
        report = verify(project, load_config(project.config_file), 1)
        assert report.intact, (point, report.differences)
        shutil.rmtree(project.root)
