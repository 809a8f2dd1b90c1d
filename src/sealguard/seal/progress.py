"""A progress bar on stderr for long runs on a terminal; nothing when piped."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sealguard.output import stderr_is_terminal
from sealguard.seal.hashing import Progress

ProgressStart = Callable[[int], Progress | None]

LONG_RUN = 5_000  # paths; smaller runs finish before a bar is worth drawing


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
