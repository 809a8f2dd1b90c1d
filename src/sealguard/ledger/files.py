"""Opening the ledger's files without ever following a symbolic link or waiting on a FIFO.

The log, its checkpoints and the witness's records are evidence in themselves: a link put in the
place of one would make sealguard read or extend a file elsewhere, and a FIFO would make it wait
for ever. Every open is O_NOFOLLOW and O_NONBLOCK, and anything but a regular file found there is
a LedgerFileError (an INCIDENT) naming the file.
"""

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from sealguard.errors import LedgerFileError


def shown(path: Path) -> str:
    """`path` from `governance/` on when it lies in a project's runtime folder, for messages."""
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i : i + 2] == ("governance", "runtime"):
            return "/".join(parts[i:])
    return str(path)


def symlink_error(path: Path) -> LedgerFileError:
    return LedgerFileError(
        f"{shown(path)} is a symlink: sealguard never follows one in place of a governance log "
        "file; nothing was read or written through it"
    )


def special_error(path: Path) -> LedgerFileError:
    return LedgerFileError(
        f"{shown(path)} is not a regular file (a folder, FIFO, socket or device in place of a "
        "governance log file); nothing was read or written through it"
    )


def open_fd(path: Path, flags: int, mode: int = 0o644) -> int:
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise symlink_error(path) from None
        if exc.errno in (errno.ENXIO, errno.EISDIR):  # a FIFO with no reader, a folder
            raise special_error(path) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise special_error(path)
    return fd


def open_read(path: Path) -> BinaryIO:
    return os.fdopen(open_fd(path, os.O_RDONLY), "rb")


def read_bytes(path: Path) -> bytes:
    with open_read(path) as stream:
        return stream.read()


def read_tail(path: Path, size: int) -> bytes:
    """The last `size` bytes of a file (all of it when it is smaller)."""
    with open_read(path) as stream:
        stream.seek(max(os.fstat(stream.fileno()).st_size - size, 0))
        return stream.read()


def append_synced(path: Path, data: bytes) -> None:
    """Append `data` (the file is created if need be) and fsync it."""
    fd = open_fd(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
