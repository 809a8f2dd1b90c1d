"""Opening the ledger's files without ever following a symbolic link.

The log, its checkpoints and the witness's records are evidence in themselves: a link put in the
place of one would make sealguard read or extend a file elsewhere. Every open is O_NOFOLLOW, and
a link found is a SymlinkError (an INCIDENT) naming the file.
"""

import errno
import os
from pathlib import Path
from typing import BinaryIO

from sealguard.errors import SymlinkError


def shown(path: Path) -> str:
    """`path` from `governance/` on when it lies in a project's runtime folder, for messages."""
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i : i + 2] == ("governance", "runtime"):
            return "/".join(parts[i:])
    return str(path)


def symlink_error(path: Path) -> SymlinkError:
    return SymlinkError(
        f"{shown(path)} is a symlink: sealguard never follows one in place of a governance log "
        "file; nothing was read or written through it"
    )


def open_fd(path: Path, flags: int, mode: int = 0o644) -> int:
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise symlink_error(path) from None
        raise


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
