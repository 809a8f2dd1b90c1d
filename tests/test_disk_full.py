"""A full disk never makes a traceback or a false INCIDENT (issue 8, A2).

The project lives on a real, small tmpfs (mounting needs root: skipped otherwise). At each fill
level a drift is observed by a real `sealguard observe`: it either completes (exit 2) or stops
with exit 74 and one line; once space is freed, `verify` finds nothing foreign and the next
observation is never an INCIDENT.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .probe_projects import cat_project

SEALGUARD = [sys.executable, "-m", "sealguard"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(where: Path, leave: int) -> Path:
    """A file that leaves about `leave` bytes free on the file system of `where`."""
    filler = where / "filler"
    stats = os.statvfs(where)
    free = stats.f_bavail * stats.f_frsize
    with filler.open("wb") as stream:
        stream.truncate(0)
        chunk = b"\0" * 4096
        remaining = max(free - leave, 0)
        try:
            while remaining > 0:
                remaining -= stream.write(chunk[: min(4096, remaining)])
        except OSError:
            pass
    return filler


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEALGUARD, *args], cwd=project, capture_output=True, text=True, check=False
    )


def _round(template: Path, disk: Path, leave: int) -> int:
    project = disk / "project"
    shutil.copytree(template, project, symlinks=True)
    filler = _fill(disk, leave)
    observed = _run(project, "observe")
    assert observed.returncode in (2, 74), (leave, observed.returncode, observed.stderr)
    if observed.returncode == 74:
        assert len(observed.stderr.strip().splitlines()) == 1, observed.stderr
        assert "Traceback" not in observed.stderr
    filler.unlink()
    verified = _run(project, "verify")
    assert verified.returncode == 0, (leave, verified.stdout)
    again = _run(project, "observe")
    assert again.returncode in (2, 4), (leave, again.returncode, again.stdout, again.stderr)
    assert _run(project, "verify").returncode == 0
    shutil.rmtree(project)
    return observed.returncode


def _levels(template: Path, disk: Path, levels: list[int]) -> dict[int, int]:
    return {leave: _round(template, disk, leave) for leave in levels}


@pytest.fixture
def template(tmp_path: Path) -> Path:
    project = cat_project(tmp_path / "template")
    (project.root / "data" / "value.txt").write_text("43\n" * 2000)  # a drift worth a diff
    return project.root


def test_observe_on_a_nearly_full_disk(template: Path, small_disk: Path) -> None:
    """Before: exit 70 `OSError: [Errno 28]` from fsio.write_atomic, and leftover temp files
    HALTED the next run."""
    results = _levels(template, small_disk, [0, 8 << 10, 24 << 10, 64 << 10, 256 << 10])
    assert 74 in results.values()  # the small levels do run out of space
    assert results[256 << 10] == 2  # and with room enough the drift is journaled


@pytest.mark.slow
def test_observe_at_many_fill_levels(template: Path, small_disk: Path) -> None:
    results = _levels(template, small_disk, list(range(0, 200 << 10, 8 << 10)))
    assert set(results.values()) == {2, 74}


def test_any_command_on_a_full_disk_says_so_in_one_line(template: Path, small_disk: Path) -> None:
    """The boundary turns a storage error anywhere (here `log export -o` onto a full disk)
    into exit 74 and one line naming the file, never a traceback."""
    filler = _fill(small_disk, 0)
    target = small_disk / "audit.tar.gz"
    done = _run(template, "log", "export", "-o", str(target))
    filler.unlink()
    assert done.returncode == 74, done.stderr
    assert done.stderr.count("\n") == 1 and str(target) in done.stderr
    assert "No space left on device" in done.stderr
