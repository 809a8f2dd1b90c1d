"""`sealguard watch`: observe on a schedule; while FROZEN or HALTED only report the state, and
observe again once a decision has resumed observation (with the config then in force).

SIGTERM and SIGINT stop it cleanly between observations (an observation under way finishes and
is journaled first).
"""

import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType

from sealguard.errors import RefusedError
from sealguard.escalation.dispatch import deliver_due
from sealguard.escalation.outbox import AttemptRecord
from sealguard.ledger import read_events
from sealguard.observe.observation import Observation, observe
from sealguard.project import Project
from sealguard.seal.settings import config_in_force
from sealguard.state import ObservationState, fold


@dataclass(frozen=True)
class NotObserving:
    """A round while FROZEN or HALTED: only the deliveries that were due."""

    state: ObservationState
    attempts: list[AttemptRecord]


@dataclass(frozen=True)
class Refused:
    """Frozen meanwhile by another process."""

    message: str


@dataclass(frozen=True)
class Stopped:
    """Stopped by a signal between observations."""

    signal: str


Round = Observation | NotObserving | Refused | Stopped


class _Stop:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: int | None = None

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.signal = signum
        self.event.set()


def _round(project: Project, jobs: int) -> Round:
    config = config_in_force(project)  # a decision may have installed another between rounds
    state = fold(read_events(project.ledger(config).log))
    if state.mode in ("FROZEN", "HALTED"):
        return NotObserving(state, deliver_due(project, config, datetime.now(UTC)))
    try:
        return observe(project, config, jobs, wait=True)
    except RefusedError as exc:
        return Refused(exc.message)


def watch(
    project: Project, interval: float, jobs: int, count: int | None = None
) -> Iterator[Round]:
    """Each round as it ends; ends when stopped by a signal or after `count` rounds."""
    stop = _Stop()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    done = 0
    try:
        while not stop.event.is_set() and (count is None or done < count):
            yield _round(project, jobs)
            done += 1
            if count is None or done < count:
                stop.event.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.signal is not None:
        yield Stopped(signal.Signals(stop.signal).name)
