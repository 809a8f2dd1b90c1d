"""Scratch folders of killed observers are removed by the next observation (issue 8, A4)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sealguard.observe import workdir

from .probe_projects import cat_project


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_folders_of_dead_observers_go_and_live_ones_stay(tmp_path: Path) -> None:
    temp = Path(tempfile.gettempdir())
    dead = temp / f"{workdir.PREFIX}{_dead_pid()}-abc"
    live = temp / f"{workdir.PREFIX}{os.getppid()}-def"
    other = temp / "sealguard-seal-keep"  # a failed seal keeps its evidence on purpose
    for folder in (dead, live, other):
        (folder / "probe").mkdir(parents=True)
    assert workdir.remove_stale() == [dead]
    assert not dead.exists() and live.exists() and other.exists()


def test_a_killed_observer_leaves_no_scratch_folder_behind(tmp_path: Path) -> None:
    """Before: /tmp/sealguard-observe-* folders of killed runs stayed for ever."""
    project = cat_project(tmp_path)
    (project.root / "data" / "delay").write_text("30\n")
    temp = Path(tempfile.gettempdir())
    proc = subprocess.Popen(
        [sys.executable, "-m", "sealguard", "observe"], cwd=project.root,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120  # a guard under load, not a measure
    while not list(temp.glob(f"{workdir.PREFIX}{proc.pid}-*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(temp.glob(f"{workdir.PREFIX}{proc.pid}-*"))  # it was there when it died
    (project.root / "data" / "delay").write_text("0\n")
    subprocess.run(
        [sys.executable, "-m", "sealguard", "observe"], cwd=project.root, capture_output=True,
        check=False,
    )  # fmt: skip
    assert not list(temp.glob(f"{workdir.PREFIX}*"))
