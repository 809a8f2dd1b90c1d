"""Progress on stderr for long runs on a terminal; nothing when stderr is not a terminal.

Two shapes: `progress_bar` (verify's bar for long runs) and the steps of `seal` and `observe`
(`steps`: the hashing, then each probe with its elapsed time). The steps are shown by the
display the command opened with `steps()`; library code announces them through `hashing`
and `probe`, which do nothing when no display is open. Progress is presentation only: it is
kept out of the functions' results, so a run without a terminal is the same run.
"""

from __future__ import annotations  # the types below are not loaded at run time

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeAlias

from sealguard.output import stderr_is_terminal

if TYPE_CHECKING:  # a command that shows no progress need not load hashing
    from collections.abc import Callable

    from rich.progress import Progress as Bar

    from sealguard.seal.hashing import Progress

ProgressStart: TypeAlias = "Callable[[int], Progress | None]"

LONG_RUN = 5_000  # paths; smaller runs finish before a bar is worth drawing

_SHOWN: ContextVar[Bar | None] = ContextVar("sealguard_steps", default=None)


@contextmanager
def progress_bar(label: str) -> Iterator[ProgressStart | None]:
    """Yields a factory `start(total) -> callback`, or None when no bar should be drawn."""
    if not stderr_is_terminal():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, TaskID, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} paths"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    tasks: list[TaskID] = []

    def start(total: int) -> Progress | None:
        if total < LONG_RUN:
            return None
        bar.start()
        tasks.append(bar.add_task(label, total=total))
        return lambda paths, size: bar.update(tasks[0], advance=paths)

    try:
        yield start
    finally:
        bar.stop()


@contextmanager
def steps() -> Iterator[None]:
    """Show, on stderr when it is a terminal, the steps run inside this block: one line each,
    kept when done with its elapsed time."""
    if not stderr_is_terminal():
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        SpinnerColumn(finished_text="done"),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    token = _SHOWN.set(bar)
    bar.start()
    try:
        yield
    finally:
        _SHOWN.reset(token)
        bar.stop()


def hashing(what: str) -> ProgressStart:
    """A factory `start(total)` of the callback that advances a step `what` (e.g. "hashing")
    by the paths hashed; it gives None when no display is open."""

    def start(total: int) -> Progress | None:
        bar = _SHOWN.get()
        if bar is None:
            return None
        task = bar.add_task(f"{what} {total:,} paths", total=total)
        return lambda paths, size: bar.update(task, advance=paths)

    return start


@contextmanager
def probe(name: str) -> Iterator[None]:
    """One probe's step, from its start until it ends (its line then holds its time)."""
    bar = _SHOWN.get()
    if bar is None:
        yield
        return
    task = bar.add_task(f"probe {name}", total=None)
    try:
        yield
    finally:
        bar.update(task, total=1, completed=1)  # finished: the elapsed time stops
