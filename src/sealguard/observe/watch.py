"""`sealguard watch`: observe on a schedule; while FROZEN or HALTED only report the state, and
observe again once a decision has resumed observation (with the config then in force).

SIGTERM and SIGINT stop it at once: a probe under way is stopped with its whole process tree
and the observation is abandoned before anything of it is journaled (a write under way is
finished first: only a probe's wait is interrupted; see proc.Interruption). Its exit status
says why it ended: 128 + the signal, else the last round's class (2 FROZEN, 3 HALTED).
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
from sealguard.exitcodes import ExitCode
from sealguard.ledger import read_events
from sealguard.observe.observation import Observation, observe
from sealguard.proc import Interrupted, interruption
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
    state: ObservationState


@dataclass(frozen=True)
class Stopped:
    """Stopped by a signal: between observations, or during one (abandoned, not journaled)."""

    signal: str
    during: bool = False


Round = Observation | NotObserving | Refused | Stopped


class _Stop:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: int | None = None

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.signal = signum
        self.event.set()
        interruption.request(signum)  # raises Interrupted when a probe is under way


def _round(project: Project, jobs: int) -> Round:
    config = config_in_force(project)  # a decision may have installed another between rounds
    state = fold(read_events(project.ledger(config).log))
    if state.mode in ("FROZEN", "HALTED"):
        return NotObserving(state, deliver_due(project, config, datetime.now(UTC)))
    try:
        return observe(project, config, jobs, wait=True)
    except RefusedError as exc:
        return Refused(exc.message, fold(read_events(project.ledger(config).log)))


_STATE_CODES = {"FROZEN": ExitCode.PRODUCT_DRIFT, "HALTED": ExitCode.INCIDENT}


def exit_code(last: Round | None) -> int:
    """How `watch` ended: 128 + the signal that stopped it; else the class of its last round
    (2 when observation is FROZEN, 3 when HALTED, as `observe` would say)."""
    if isinstance(last, Stopped):
        return int(ExitCode.TERMINATED if last.signal == "SIGTERM" else ExitCode.INTERRUPTED)
    if isinstance(last, Observation):
        return last.exit_code
    if isinstance(last, NotObserving | Refused):
        return int(_STATE_CODES.get(last.state.mode, ExitCode.OK))
    return int(ExitCode.OK)


def watch(
    project: Project, interval: float, jobs: int, count: int | None = None
) -> Iterator[Round]:
    """Each round as it ends; ends when stopped by a signal or after `count` rounds."""
    stop = _Stop()
    interruption.clear()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    done, during = 0, False
    try:
        while not stop.event.is_set() and (count is None or done < count):
            try:
                finished = _round(project, jobs)
            except Interrupted:
                during = True
                break
            yield finished
            done += 1
            if count is None or done < count:
                stop.event.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        interruption.clear()
    if stop.signal is not None:
        yield Stopped(signal.Signals(stop.signal).name, during)
