"""`sealguard watch`: observe on a schedule; while FROZEN or HALTED only report the state, and
observe again once a decision has resumed observation (with the config then in force).

SIGTERM and SIGINT stop it at once: a probe under way is stopped with its whole process tree
and the observation is abandoned before anything of it is journaled (a write under way is
finished first: only a probe's wait is interrupted; see proc.Interruption). Its exit status
says why it ended: 128 + the signal, else the last round's class (2 FROZEN, 3 HALTED).
"""

import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType

from sealguard.errors import DataError, RefusedError
from sealguard.escalation.dispatch import deliver_due, escalations
from sealguard.escalation.outbox import AttemptRecord, next_due
from sealguard.exitcodes import ExitCode
from sealguard.ledger.journal import notable_events
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


@dataclass(frozen=True)
class Retried:
    """Deliveries that fell due between two rounds (an INCIDENT's retries are seconds apart,
    the rounds maybe hours): not a round."""

    attempts: list[AttemptRecord]


Round = Observation | NotObserving | Refused | Stopped | Retried


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
    state = fold(notable_events(project.ledger(config)))
    if state.mode in ("FROZEN", "HALTED"):
        return NotObserving(state, deliver_due(project, config, datetime.now(UTC)))
    try:
        return observe(project, config, jobs, wait=True)
    except RefusedError as exc:
        return Refused(exc.message, fold(notable_events(project.ledger(config))))


_STATE_CODES = {"FROZEN": ExitCode.PRODUCT_DRIFT, "HALTED": ExitCode.INCIDENT}


def _due_in(project: Project) -> float | None:
    """Seconds until a delivery or a deadline of the outbox falls due; None when none will."""
    try:
        at = next_due(escalations(project, config_in_force(project)).values())
    except DataError:
        return None  # an unreadable log: the next round reports it
    if at is None:
        return None
    return (at - datetime.now(UTC).replace(tzinfo=None)).total_seconds()


def _pause(project: Project, interval: float, stop: _Stop) -> Iterator[Retried]:
    """Wait `interval` seconds (or until stopped), delivering what falls due meanwhile."""
    end = time.monotonic() + interval
    while not stop.event.is_set() and (left := end - time.monotonic()) > 0:
        due_in = _due_in(project)
        if due_in is None or due_in > left:
            stop.event.wait(left)
            return
        # at least a second: journaled times are to the second, so "due" may lag by one
        if stop.event.wait(max(due_in, 1.0)):
            return
        if attempts := deliver_due(project, config_in_force(project), datetime.now(UTC)):
            yield Retried(attempts)


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
    done, during = 0, False  # rounds, not the retries between them
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
                yield from _pause(project, interval, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        interruption.clear()
    if stop.signal is not None:
        yield Stopped(signal.Signals(stop.signal).name, during)
