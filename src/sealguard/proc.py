"""The one way sealguard runs subprocesses: short ones captured, probes streamed to files.

A probe's processes end with it. It runs in a session of its own, and when its command ends
(or at its timeout) every process of its tree that is still running is reported and stopped:
SIGTERM, then SIGKILL after a grace period, until none is left. The tree is found again from
/proc, not only by process group, because a daemon's double fork (a child that calls setsid,
then its parent exits) leaves the group and the session: for as long as the probe runs, this
process is a child subreaper (Linux `prctl(PR_SET_CHILD_SUBREAPER)`), so such orphans are handed
to it rather than to init, and the tree is every child of this process that the probe brought,
their descendants, and anything still in the probe's session or group. Unlike a cgroup, this
needs no privilege and no delegated cgroup v2 hierarchy, and works in containers.
"""

import contextlib
import ctypes
import math
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psutil

from sealguard.errors import SealguardError
from sealguard.facts import Survivor

GRACE = 5.0  # seconds between SIGTERM and SIGKILL
SETTLE = 0.5  # seconds a runner's helpers get to end on their own after it (esbuild after vitest)
_POLL = 0.02
_KILL_ROUNDS = 500  # SIGKILL rounds, for a tree that forks while it is being killed
_POLL_MAX_MS = 2**31 - 1  # poll(2) takes an int of milliseconds: a longer wait goes in steps
_PR_SET_CHILD_SUBREAPER, _PR_GET_CHILD_SUBREAPER = 36, 37


@dataclass(frozen=True)
class Completed:
    code: int
    stdout: bytes
    stderr: bytes


class CommandNotFound(SealguardError):
    pass


class Interrupted(BaseException):
    """A stop signal ended the probe under way (its tree is stopped): unwind, journal nothing.
    A BaseException, like KeyboardInterrupt, so that no `except Exception` takes it for a
    probe's failure."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Interruption:
    """Stop signals for a long-running caller (`watch`): once one is requested, a probe under
    way is stopped at once and no other starts. Only a probe's wait is interrupted: anywhere
    else (an append to the log, a write) the request waits for the next probe or the caller."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._armed = False

    def request(self, signum: int) -> None:
        """Called from a signal handler (the main thread, between two bytecodes)."""
        self.signum = signum
        if self._armed:
            self._armed = False
            raise Interrupted(signum)

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)

    def wait(self, process: "subprocess.Popen[bytes]", timeout: float) -> int:
        self.check()
        self._armed = True
        try:
            return _wait(process, timeout)
        finally:
            self._armed = False

    def clear(self) -> None:
        self.signum, self._armed = None, False


interruption = Interruption()  # the process's one: signal handlers are per process


def _pidfd(pid: int) -> int | None:
    """A descriptor that turns readable when `pid` ends; None where there is none (Linux before
    5.3, a seccomp filter that refuses pidfd_open, another platform)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _milliseconds(seconds: float) -> int:
    return min(max(math.ceil(seconds * 1000), 0), _POLL_MAX_MS)


def _wait(process: "subprocess.Popen[bytes]", timeout: float) -> int:
    """Its exit code, woken by its end, not by a sleep loop (Popen.wait with a timeout sleeps
    up to 50 ms at a time); raises subprocess.TimeoutExpired after `timeout` seconds. A signal
    handler that raises (Ctrl-C, `Interruption.request`) ends the poll at once."""
    pidfd = _pidfd(process.pid)  # the pid is ours until we reap it: it cannot be reused
    if pidfd is None:
        return process.wait(timeout)
    deadline = time.monotonic() + timeout
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        while not poller.poll(_milliseconds(deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(process.args, timeout)
    finally:
        os.close(pidfd)
    return process.wait()  # it has ended: this only reaps it


def run(argv: Sequence[str], cwd: Path, timeout: float = 60) -> Completed:
    """Run `argv` in `cwd`; raises CommandNotFound when the program is not installed."""
    try:
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise CommandNotFound(f"{argv[0]}: command not found") from None
    return Completed(done.returncode, done.stdout, done.stderr)


def first_line(argv: Sequence[str], cwd: Path, timeout: float) -> str | None:
    """The first line a command prints when it succeeds (a version, a commit), else None."""
    try:
        done = run(argv, cwd=cwd, timeout=timeout)
    except (CommandNotFound, OSError):
        return None
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    return lines[0].strip() if done.code == 0 and lines else None


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None  # pragma: no cover - the tests run on Linux
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


def _subreaper(flag: int) -> int | None:
    """Set this process's child-subreaper flag; returns the one before, or None when it cannot."""
    prctl = _prctl()
    before = ctypes.c_int(0)
    if prctl is None or prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(before), 0, 0, 0) != 0:
        return None  # pragma: no cover - a kernel before 3.4
    return before.value if prctl(_PR_SET_CHILD_SUBREAPER, flag, 0, 0, 0) == 0 else None


def _command(process: psutil.Process) -> str:
    return (" ".join(process.cmdline()) or process.name())[:500]


class ProcessTree:
    """The processes a probe started, found again when it ends (see the module's docstring)."""

    def __init__(self) -> None:
        self.leader: int | None = None  # the probe's own process, waited for by its Popen
        self._known: set[int] = set()  # children this process had before the probe
        self._before: int | None = None

    def __enter__(self) -> "ProcessTree":
        self._known = {child.pid for child in psutil.Process().children()}
        self._before = _subreaper(1)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._before is not None:
            _subreaper(self._before)

    def _in(self, pid: int, *ids: Callable[[int], int]) -> bool:
        """Whether `pid` is in the probe's process group or session (both the leader's pid)."""
        try:
            return any(id_of(pid) == self.leader for id_of in ids)
        except OSError:
            return False

    def _gone(self, process: psutil.Process, me: int) -> bool:
        """A zombie is gone; one handed to this process is reaped here (nobody else waits)."""
        if process.info["status"] != psutil.STATUS_ZOMBIE:
            return False
        if process.info["ppid"] == me and process.pid != self.leader:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(process.pid, os.WNOHANG)
        return True

    def members(self) -> list[psutil.Process]:
        """The tree's processes still running, the probe's own process aside."""
        me = os.getpid()
        everyone = list(psutil.process_iter(["ppid", "status"]))
        children: dict[int, list[psutil.Process]] = {}
        for process in everyone:
            children.setdefault(process.info["ppid"], []).append(process)
        found = {p.pid: p for p in children.get(me, []) if p.pid not in self._known}
        if self._before is None:  # no subreaper: orphans went to init, the session names them
            found.update((p.pid, p) for p in everyone if self._in(p.pid, os.getpgid, os.getsid))
        queue = list(found.values())
        while queue:
            for child in children.get(queue.pop().pid, []):
                if child.pid not in found:
                    found[child.pid] = child
                    queue.append(child)
        return [p for p in found.values() if p.pid != self.leader and not self._gone(p, me)]

    def survivors(self, settle: float) -> tuple[Survivor, ...]:
        """The processes still running after `settle` seconds, with their command lines."""
        deadline = time.monotonic() + settle
        while (running := self.members()) and time.monotonic() < deadline:
            time.sleep(_POLL)
        found = []
        for process in running:
            try:
                found.append(Survivor(process.pid, _command(process)))
            except psutil.Error:  # it ended meanwhile: not a survivor
                continue
        return tuple(sorted(found, key=lambda s: s.pid))

    def _signal(self, leader: subprocess.Popen[bytes], sig: int) -> list[psutil.Process]:
        """Send `sig` to the group and to every process of the tree; returns those running."""
        running = self.members()
        alive = leader.poll() is None
        if alive:
            leader.send_signal(sig)
        # the group also holds what forked since the scan; its id is not reused while it does
        if alive or any(self._in(p.pid, os.getpgid) for p in running):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(leader.pid, sig)
        for process in running:
            try:
                process.send_signal(sig)  # psutil checks that the pid was not reused
            except psutil.Error:
                continue
        return running

    def stop(self, leader: subprocess.Popen[bytes], grace: float) -> None:
        """SIGTERM the whole tree; SIGKILL what is left after `grace` seconds, until none is."""
        deadline = time.monotonic() + grace
        running = self._signal(leader, signal.SIGTERM)
        while (running or leader.poll() is None) and time.monotonic() < deadline:
            time.sleep(_POLL)
            running = self.members()
        for _ in range(_KILL_ROUNDS):
            if not running and leader.poll() is not None:
                break
            self._signal(leader, signal.SIGKILL)
            time.sleep(_POLL)
            running = self.members()
        leader.wait()


@dataclass(frozen=True)
class StreamedRun:
    """A command whose output went straight to files (memory stays bounded)."""

    exit_code: int | None  # None when it was killed for its timeout or never started
    signal: int | None  # the signal that ended it, if one did
    timed_out: bool
    seconds: float
    not_started: str  # why it could not start ("" when it did)
    survivors: tuple[Survivor, ...] = ()  # its processes still running at its end, all killed


def run_to_files(
    argv: Sequence[str] | str,
    cwd: Path,
    env: Mapping[str, str],
    outputs: tuple[Path, Path],
    *,
    timeout: float,
    shell: bool = False,
    grace: float = GRACE,
    settle: float = SETTLE,
) -> StreamedRun:
    """Run once, stdout and stderr streamed to the two `outputs` files. When it ends, or at its
    timeout, every process it started is stopped (SIGTERM, then SIGKILL after `grace` seconds)
    and the ones still running are reported; `settle` seconds are left to those that are
    already on their way out."""
    interruption.check()
    started = time.monotonic()
    with outputs[0].open("wb") as out, outputs[1].open("wb") as err, ProcessTree() as tree:
        try:
            process = subprocess.Popen(
                argv, cwd=cwd, env=dict(env), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                shell=shell, start_new_session=True,
            )  # fmt: skip
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            err.write(
                f"sealguard: cannot start {argv if shell else argv[0]}: {exc.strerror}\n".encode()
            )
            return StreamedRun(
                None, None, False, time.monotonic() - started, exc.strerror or str(exc)
            )
        tree.leader = process.pid
        try:
            code: int | None = interruption.wait(process, timeout)
        except subprocess.TimeoutExpired:
            code = None
        except BaseException:
            tree.stop(process, grace=1)  # Ctrl-C or a stop signal: leave no probe behind
            raise
        seconds = time.monotonic() - started
        survivors = tree.survivors(0 if code is None else settle)
        tree.stop(process, grace)
    if code is None:
        return StreamedRun(None, None, True, seconds, "", survivors)
    signal_ = -code if code < 0 else None
    return StreamedRun(code if code >= 0 else None, signal_, False, seconds, "", survivors)
