"""Reading the disk: what is at each sealed path, hashed with both cores.

Paths are opened relative to one directory descriptor with O_NOFOLLOW, so a symlink is seen
as a symlink and never followed. Each process reuses one large buffer; memory stays constant
whatever the file sizes. Work is spread over forked worker processes in small spans of paths:
the paths themselves are inherited through fork, so only span bounds and results cross a pipe.
"""

import errno
import hashlib
import io
import mmap
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, NamedTuple, TypeVar

from sealguard.seal.integrity import Difference, FileState, compare_entry
from sealguard.seal.manifest import Entry
from sealguard.workers import forked

BUFFER_SIZE = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
SERIAL_BELOW = 64  # fewer paths than this are not worth a process pool

T = TypeVar("T")
Progress = Callable[[int, int], None]  # (paths done, bytes done)


def _hash_fd(fd: int, size: int, buffer: mmap.mmap) -> tuple[str, int]:
    """sha256 and length of what `fd` holds, read to its end."""
    if size < len(buffer):  # small file: one read, and a short read is the end of the file
        data = os.read(fd, size + 1)
        if len(data) <= size:
            return hashlib.sha256(data).hexdigest(), len(data)
        digest, total = hashlib.sha256(data), len(data)  # it grew while we read: go on
    else:
        digest, total = hashlib.sha256(), 0
    view = memoryview(buffer)
    with io.FileIO(fd, closefd=False) as stream:
        while count := stream.readinto(buffer):
            digest.update(view[:count])
            total += count
    return digest.hexdigest(), total


def _not_opened(rel: str, root_fd: int, exc: OSError) -> FileState:
    if exc.errno == errno.ENOENT:
        return FileState(rel, "missing")
    if exc.errno == errno.ENOTDIR:
        return FileState(rel, "missing", error="a folder on its path is no longer a folder")
    if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
        try:
            return FileState(rel, "symlink", target=os.readlink(rel, dir_fd=root_fd))
        except OSError as again:
            return FileState(rel, "unreadable", error=again.strerror or str(again))
    return FileState(rel, "unreadable", error=exc.strerror or str(exc))


def _state_of_open(rel: str, fd: int, info: os.stat_result, buffer: mmap.mmap) -> FileState:
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISDIR(info.st_mode):
        return FileState(rel, "directory", mode=mode)
    if not stat.S_ISREG(info.st_mode):  # a FIFO was opened without waiting, and is not read
        return FileState(rel, "special", mode=mode)
    digest, size = _hash_fd(fd, info.st_size, buffer)
    return FileState(rel, "file", digest, mode, size)


def read_state(rel: str, root_fd: int, buffer: mmap.mmap) -> FileState:
    """What is at `rel` (relative to `root_fd`) now, with its sha256 when it is a file."""
    try:
        fd = os.open(rel, _OPEN_FLAGS, dir_fd=root_fd)
    except OSError as exc:
        return _not_opened(rel, root_fd, exc)
    try:
        return _state_of_open(rel, fd, os.fstat(fd), buffer)
    except OSError as exc:
        return FileState(rel, "unreadable", error=exc.strerror or str(exc))
    finally:
        os.close(fd)


def check_entry(entry: Entry, root_fd: int, buffer: mmap.mmap) -> tuple[int, Difference | None]:
    """Bytes read at a sealed path, and how it differs from the seal: `compare_entry` of its
    `read_state`, with the same one open, except that an intact sealed file (nearly every
    path, and on 100,000 small files the per-path cost is what counts) builds no FileState."""
    try:
        fd = os.open(entry.path, _OPEN_FLAGS, dir_fd=root_fd)
    except OSError as exc:
        return 0, compare_entry(entry, _not_opened(entry.path, root_fd, exc))
    try:
        info = os.fstat(fd)
        if entry.kind == "file" and stat.S_ISREG(info.st_mode):
            digest, size = _hash_fd(fd, info.st_size, buffer)
            mode = stat.S_IMODE(info.st_mode)
            if digest == entry.sha256 and mode == entry.mode:
                return size, None
            state = FileState(entry.path, "file", digest, mode, size)
        else:
            state = _state_of_open(entry.path, fd, info, buffer)
    except OSError as exc:
        state = FileState(entry.path, "unreadable", error=exc.strerror or str(exc))
    finally:
        os.close(fd)
    return state.size, compare_entry(entry, state)


# The work of one run, set before the pool forks so that workers inherit it.
_JOB: dict[str, Any] = {}


def _job() -> tuple[int, Sequence[Any], mmap.mmap]:
    if "buffer" not in _JOB:
        # page-aligned whatever malloc does: a bytearray whose data began 16 bytes into a
        # page measured up to 5 % more CPU per byte to read into and hash (1 GiB, 20,000 files)
        _JOB["buffer"] = mmap.mmap(-1, BUFFER_SIZE)
    return _JOB["root_fd"], _JOB["items"], _JOB["buffer"]


def _states_of(span: tuple[int, int]) -> list[FileState]:
    root_fd, paths, buffer = _job()
    return [read_state(paths[i], root_fd, buffer) for i in range(*span)]


class SpanCheck(NamedTuple):
    """What one span of sealed entries gave: where it starts, so that differences keep the
    manifest's order whichever worker finishes first."""

    start: int
    paths: int
    size: int
    found: list[Difference]


def _check_span(span: tuple[int, int]) -> SpanCheck:
    root_fd, entries, buffer = _job()
    size, found = 0, []
    for i in range(*span):
        read, difference = check_entry(entries[i], root_fd, buffer)
        size += read
        if difference:
            found.append(difference)
    return SpanCheck(span[0], span[1] - span[0], size, found)


def _spans(count: int, jobs: int) -> list[tuple[int, int]]:
    step = min(512, max(8, count // (jobs * 64)))
    return [(start, min(start + step, count)) for start in range(0, count, step)]


@contextmanager
def spans_running(
    root_fd: int, items: Sequence[Any], work: Callable[[tuple[int, int]], T], jobs: int
) -> Iterator[Iterator[T]]:
    """Start `work` over spans of `items` (in worker processes when it pays) and give the
    unordered results; the caller may do other work before reading them."""
    _JOB.clear()
    _JOB.update(root_fd=root_fd, items=items)
    spans = _spans(len(items), jobs)
    if jobs <= 1 or len(items) < SERIAL_BELOW:
        yield map(work, spans)
        return
    with forked(work, spans, jobs) as results:
        yield results


def hash_paths(
    root_fd: int, paths: Sequence[str], jobs: int, progress: Progress | None = None
) -> list[FileState]:
    """The state of every path, in the order given."""
    states: dict[str, FileState] = {}
    with spans_running(root_fd, paths, _states_of, jobs) as results:
        for chunk in results:
            states.update((s.path, s) for s in chunk)
            if progress:
                progress(len(chunk), sum(s.size for s in chunk))
    return [states[p] for p in paths]


def collect_checks(
    results: Iterator[SpanCheck], progress: Progress | None = None
) -> tuple[int, list[Difference]]:
    """(bytes read, differences in the manifest's order) from `_check_span`'s results, which
    come in the order the workers finish them."""
    total, by_start = 0, {}
    for check in results:
        total += check.size
        by_start[check.start] = check.found
        if progress:
            progress(check.paths, check.size)
    return total, [d for start in sorted(by_start) for d in by_start[start]]


def checking_entries(
    root_fd: int, entries: Sequence[Entry], jobs: int
) -> AbstractContextManager[Iterator[SpanCheck]]:
    """Start comparing every sealed entry with the disk; read with `collect_checks`."""
    return spans_running(root_fd, entries, _check_span, jobs)
