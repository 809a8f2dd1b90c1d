"""The observer lock: one observation of a project at a time.

An flock on `governance/runtime/.observer.lock`, held for the whole observation (its checks,
probes, evidence and journal). The kernel drops it when the holder dies, even by `kill -9`, so
a crash never leaves the project locked. The file holds the holder's pid, for messages only.
"""

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sealguard.errors import BusyError, EvidenceWriteError

LOCK_NAME = ".observer.lock"


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""


def _open(folder: Path) -> int:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        return os.open(folder / LOCK_NAME, flags, 0o644)
    except OSError as exc:
        raise EvidenceWriteError(
            f"{folder / LOCK_NAME}: cannot open the observer lock ({exc.strerror or exc})"
        ) from None


_held: set[int] = set()


def _close_in_child() -> None:
    """A forked child (a hashing worker) must not keep the lock alive after the observer
    dies: close its copies. The parent's own descriptor keeps the lock."""
    for fd in _held:
        with suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


@contextmanager
def observer_lock(folder: Path, wait: bool = False) -> Iterator[None]:
    """Hold the project's observer lock; BusyError (exit 75) when taken and not `wait`."""
    fd = _open(folder)
    _held.add(fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            raise BusyError(
                f"another observation of this project is running{_holder(fd)}; "
                "try again later, or pass --wait"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the pid is for messages only; a full disk must not stop the observation here
        yield
    finally:
        _held.discard(fd)
        os.close(fd)
