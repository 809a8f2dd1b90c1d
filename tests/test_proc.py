"""proc: a probe's whole process tree ends with the probe, whatever its processes try.

Real processes: shells that ignore SIGTERM, children left in the background, grandchildren that
start their own session and whose parent exits (a daemon's double fork). Each child writes its
pid to a file before it does anything else, so the test can look for it in /proc afterwards.
"""

import os
import sys
from pathlib import Path

import pytest

from sealguard.proc import StreamedRun, run_to_files

# Ignores SIGTERM, says who it is, then (optionally) writes into `target` after `delay` seconds.
STUBBORN = """\
trap "" TERM
echo $$ > "$1"
if [ -n "$2" ]; then sleep "$3"; echo "written after the probe" > "$2"; fi
while :; do sleep 1; done
"""
# Leaves once `pidfile` exists, so the child is known to be running when the probe ends.
WAIT_FOR = "while [ ! -s {pidfile} ]; do sleep 0.01; done"
# The double fork of a daemon: the grandchild is in a session of its own and its parent is gone.
DOUBLE_FORK = """\
import os, sys
if os.fork() == 0:
    os.setsid()
    with open("grandchild.session", "w") as out:
        out.write(str(os.getsid(0)))
    if os.fork() == 0:
        os.execvp("sh", ["sh", *sys.argv[1:]])
    os._exit(0)
os.wait()
"""


def _alive(pid: int) -> bool:
    """Running, or a zombie of this process that it did not reap: not gone as it should be.
    (A zombie of init is dead; init reaps it in its own time.)"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    state, parent = stat.rsplit(")", 1)[1].split()[:2]
    return state != "Z" or int(parent) == os.getpid()


def _pid(path: Path) -> int:
    return int(path.read_text().strip())


def _run(tmp_path: Path, script: str, timeout: float = 30, settle: float = 0) -> StreamedRun:
    (tmp_path / "stubborn.sh").write_text(STUBBORN)
    (tmp_path / "double_fork.py").write_text(DOUBLE_FORK)
    outputs = (tmp_path / "stdout.txt", tmp_path / "stderr.txt")
    return run_to_files(
        script, tmp_path, dict(os.environ), outputs, timeout=timeout, shell=True,
        grace=0.5, settle=settle,
    )  # fmt: skip


def test_a_timeout_kills_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    done = _run(
        tmp_path,
        f"sh stubborn.sh child.pid & {WAIT_FOR.format(pidfile='child.pid')}; wait",
        timeout=3,
    )
    child = _pid(tmp_path / "child.pid")
    assert done.timed_out and done.exit_code is None
    assert not _alive(child), "the child that ignores SIGTERM outlived the timeout"
    assert child in [s.pid for s in done.survivors]


def test_a_background_child_is_killed_when_the_probe_ends_and_reported(tmp_path: Path) -> None:
    script = (
        f"sh stubborn.sh child.pid sealed.txt 1 & {WAIT_FOR.format(pidfile='child.pid')}; exit 0"
    )
    done = _run(tmp_path, script)
    child = _pid(tmp_path / "child.pid")
    assert done.exit_code == 0 and not done.timed_out
    assert not _alive(child), "a background child outlived the probe"
    assert not (tmp_path / "sealed.txt").exists()
    assert child in [s.pid for s in done.survivors]
    reported = next(s for s in done.survivors if s.pid == child)
    assert "stubborn.sh child.pid sealed.txt 1" in reported.command


def test_a_grandchild_in_its_own_session_is_caught(tmp_path: Path) -> None:
    script = (
        f"echo $$ > leader.pid; {sys.executable} double_fork.py stubborn.sh grandchild.pid "
        f"sealed.txt 1; {WAIT_FOR.format(pidfile='grandchild.pid')}; exit 0"
    )
    done = _run(tmp_path, script)
    grandchild = _pid(tmp_path / "grandchild.pid")
    # it left the probe's session and group, and its parent had exited before the probe did
    assert _pid(tmp_path / "grandchild.session") not in (_pid(tmp_path / "leader.pid"), grandchild)
    assert not _alive(grandchild), "a double-forked grandchild escaped the probe"
    assert not (tmp_path / "sealed.txt").exists()
    assert grandchild in [s.pid for s in done.survivors]


def test_a_probe_that_leaves_nothing_reports_nothing(tmp_path: Path) -> None:
    done = _run(tmp_path, "echo fine; (sleep 0.01; echo sub) ; exit 3", settle=2)
    assert done.exit_code == 3 and done.survivors == ()
    assert (tmp_path / "stdout.txt").read_text() == "fine\nsub\n"


def test_children_that_end_on_their_own_while_it_settles_are_not_survivors(tmp_path: Path) -> None:
    """A runner's helper that exits just after the runner (esbuild after vitest) is not blamed."""
    done = _run(tmp_path, "(sleep 0.2; echo late) & exit 0", settle=5)
    assert done.exit_code == 0 and done.survivors == ()


def test_ctrl_c_during_a_probe_leaves_no_process_behind(tmp_path: Path) -> None:
    import signal

    # as at a terminal: a test run started in the background inherits SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupt_a_probe(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_a_probe(tmp_path: Path) -> None:
    import signal
    import threading

    pidfile = tmp_path / "child.pid"

    def interrupt() -> None:
        while not (pidfile.exists() and pidfile.read_text().strip()):
            threading.Event().wait(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "sh stubborn.sh child.pid & wait")
    assert not _alive(_pid(pidfile))


def test_without_a_subreaper_the_session_still_names_the_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where prctl is missing (another kernel), orphans go to init; the session finds them."""
    import sealguard.proc

    monkeypatch.setattr(sealguard.proc, "_subreaper", lambda flag: None)
    script = (
        f"sh stubborn.sh child.pid sealed.txt 1 & {WAIT_FOR.format(pidfile='child.pid')}; exit 0"
    )
    done = _run(tmp_path, script)
    child = _pid(tmp_path / "child.pid")
    assert not _alive(child) and not (tmp_path / "sealed.txt").exists()
    assert child in [s.pid for s in done.survivors]


def _counting_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every time.sleep from now on (sealguard's loops and subprocess's own), still sleeping."""
    import time

    sleeps: list[float] = []
    sleep = time.sleep

    def counted(seconds: float) -> None:
        sleeps.append(seconds)
        sleep(seconds)

    monkeypatch.setattr(time, "sleep", counted)
    return sleeps


def test_a_probe_that_ends_on_its_own_is_waited_for_without_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner wakes when the probe exits, not at the next turn of a sleep loop (Popen.wait
    with a timeout sleeps up to 50 ms at a time: 9 sleeps and 0.21 s for a 0.2 s probe)."""
    sleeps = _counting_sleeps(monkeypatch)
    done = _run(tmp_path, "sleep 0.1; echo done; exit 4", settle=2)
    assert (done.exit_code, done.timed_out, done.survivors) == (4, False, ())
    assert (tmp_path / "stdout.txt").read_text() == "done\n"
    assert sleeps == [], f"the runner slept {len(sleeps)} times waiting for the probe"


def test_a_probe_killed_by_a_signal_is_waited_for_without_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = _counting_sleeps(monkeypatch)
    done = _run(tmp_path, "sleep 0.1; kill -KILL $$")
    assert (done.exit_code, done.signal, done.timed_out) == (None, 9, False)
    assert sleeps == []


def test_a_timeout_longer_than_poll_can_take_still_waits(tmp_path: Path) -> None:
    """poll(2) takes at most 2**31 - 1 ms (24.8 days); a probe may say "1000d"."""
    done = _run(tmp_path, "sleep 0.1; exit 0", timeout=1000 * 86400)
    assert (done.exit_code, done.timed_out) == (0, False)


def test_without_a_pidfd_the_wait_still_ends_and_times_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernel before Linux 5.3, or a seccomp filter, refuses pidfd_open: Popen's own wait."""
    import errno

    def refused(pid: int, flags: int = 0) -> int:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    monkeypatch.setattr(os, "pidfd_open", refused)
    assert _run(tmp_path, "sleep 0.1; exit 5").exit_code == 5
    done = _run(tmp_path, "exec sleep 30", timeout=0.3)
    assert done.timed_out and done.exit_code is None and done.survivors == ()
