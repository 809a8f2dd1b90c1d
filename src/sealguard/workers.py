"""Work spread over forked worker processes: the one process pool sealguard uses.

Workers are forked, so they inherit the parent's data (only span bounds and results cross a
pipe); each takes the next span from a shared counter, so a few large items cannot leave a
core idle; every span's result must come back, or the run fails rather than pass.
"""

import ctypes
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar, cast

from sealguard.errors import SealguardError

T = TypeVar("T")
PR_SET_PDEATHSIG = 1
Span = tuple[int, int]


class WorkerFailed(SealguardError):
    """A worker process failed; its traceback is in the message."""


def _die_with_parent(parent: int) -> None:
    """On Linux, a worker is killed when its parent dies (even by `kill -9`), so nothing it
    inherited (such as the observer lock) outlives the observation."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: workers end when their pipe breaks
    # the parent died before prctl took effect: the worker was handed to init, or to the
    # nearest subreaper (a process that ran probes is one), so compare with the parent itself
    if os.getppid() != parent:
        os._exit(1)


def _worker(
    work: Callable[[tuple[int, int]], Any], spans: list[tuple[int, int]], ticket: Any, out: Any,
    parent: int,
) -> None:  # fmt: skip
    """Take the next span until none is left; send each result, or the failure, to `out`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    _die_with_parent(parent)
    try:
        while True:
            with ticket.get_lock():
                index = ticket.value
                ticket.value = index + 1
            if index >= len(spans):
                break
            out.send(work(spans[index]))
    except BaseException:
        out.send(WorkerFailed(f"a worker process failed:\n{traceback.format_exc()}"))
    finally:
        out.close()


def _start_workers(
    work: Callable[[tuple[int, int]], Any], spans: list[tuple[int, int]], jobs: int, ticket: Any
) -> list[tuple[Any, Any]]:
    """Fork `jobs` workers now; each takes spans one at a time from the shared counter
    `ticket`, so a few large items cannot leave a core idle. Returns (result reader, process)
    pairs."""
    context = multiprocessing.get_context("fork")
    started = []
    for _ in range(jobs):
        reader, writer = context.Pipe(duplex=False)
        worker = context.Process(
            target=_worker, args=(work, spans, ticket, writer, os.getpid()), daemon=True
        )
        worker.start()
        writer.close()
        started.append((reader, worker))
    return started


def _results(started: list[tuple[Any, Any]], expected: int) -> Generator[Any, None, None]:
    """Every span's result from the workers, unordered; fails unless all of them come back."""
    readers: list[Any] = [reader for reader, _ in started]
    received = 0
    try:
        while readers:
            for reader in cast(list[Connection], wait(readers)):
                try:
                    result = reader.recv()
                except EOFError:
                    readers.remove(reader)
                    continue
                if isinstance(result, WorkerFailed):
                    raise result
                received += 1
                yield result
        if received != expected:
            codes = [worker.exitcode for _, worker in started]
            raise WorkerFailed(
                f"worker processes ended early (exit codes {codes}); results are incomplete"
            )
    finally:
        for reader, worker in started:
            reader.close()
            worker.terminate()
            worker.join()


@contextmanager
def forked(work: Callable[[Span], T], spans: list[Span], jobs: int) -> Iterator[Iterator[T]]:
    """Start `jobs` workers on `spans` now; yields their results, unordered, as they come."""
    # Held here until the workers are gone: a started Process drops its arguments, and a
    # counter freed in this process is shared memory the next pool's counter is given, while
    # these workers still count on it (each pool then takes the other's spans).
    ticket = multiprocessing.get_context("fork").Value("q", 0)
    started = _start_workers(work, spans, jobs, ticket)
    results: Generator[Any, None, None] = _results(started, len(spans))
    try:
        yield results
    finally:
        results.close()
        for reader, worker in started:  # when the results were never read
            reader.close()
            worker.terminate()
            worker.join()
