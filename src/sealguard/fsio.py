"""Writing files so that a crash leaves either the old content or the new, never a mix."""

import hashlib
import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes, flags: int, mode: int, durable: bool = True) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | flags, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o644, durable: bool = True) -> None:
    """Replace `path` with `data`: temp file, fsync, rename, fsync of the folder.

    `durable=False` skips both fsyncs, for caches that are checked before use.
    """
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    _write_synced(temp, data, os.O_TRUNC, mode, durable)
    os.replace(temp, path)
    if durable:
        fsync_dir(path.parent)


def append_synced(path: Path, data: bytes) -> None:
    """Append `data` to `path` (created if need be) and fsync it."""
    _write_synced(path, data, os.O_APPEND, 0o644)


def write_new(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Create `path` with `data`; fails with FileExistsError rather than overwrite."""
    _write_synced(path, data, os.O_EXCL, mode)
    fsync_dir(path.parent)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in chunks (memory stays bounded)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
