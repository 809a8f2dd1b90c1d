"""Reading a file a person named, without ever blocking on something that is not a file.

A named pipe, a device, a socket or a folder where a file is expected must not hang the
command (opening a FIFO waits for a writer; /dev/zero never ends) nor end in a traceback. The
kind is judged with stat, before anything is opened; the file is then opened non-blocking and
checked again on its descriptor, so a FIFO swapped in between the two is caught too.
"""

import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "is a folder, not a regular file"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file"),
    (stat.S_ISCHR, "is a device, not a regular file"),
    (stat.S_ISBLK, "is a device, not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
)


class NotRegularFile(OSError):
    """`strerror` says what the path is instead: "is a folder, not a regular file"."""

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def kind_problem(mode: int) -> str | None:
    """Why a file of this st_mode cannot be read as a file; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((problem for test, problem in _KINDS if test(mode)), "is not a regular file")


def _refuse(mode: int, path: Path) -> None:
    if problem := kind_problem(mode):
        raise NotRegularFile(0, problem, str(path))


def check_regular(path: Path) -> None:
    """Raise NotRegularFile unless `path` is a regular file (or a link to one); never opens it.
    A missing path raises FileNotFoundError, as reading it would."""
    _refuse(os.stat(path).st_mode, path)


def read_regular(path: Path) -> bytes:
    """The bytes of the regular file at `path`; NotRegularFile for anything else."""
    check_regular(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as stream:
        _refuse(os.fstat(fd).st_mode, path)  # what was opened, should it have been swapped
        return stream.read()
