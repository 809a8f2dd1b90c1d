"""`sealguard watch`: observe on a schedule until FROZEN or HALTED, then keep reporting the state.

SIGTERM and SIGINT stop it cleanly between observations (an observation under way finishes and
is journaled first).
"""

import signal
import threading
from datetime import UTC, datetime
from types import FrameType

from sealguard import output
from sealguard.config import Config
from sealguard.errors import RefusedError
from sealguard.escalation.dispatch import deliver_due
from sealguard.ledger import read_events
from sealguard.observe.observation import observe
from sealguard.project import Project
from sealguard.report import narrative
from sealguard.state import fold


class _Stop:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: int | None = None

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.signal = signum
        self.event.set()


def watch(
    project: Project, config: Config, interval: float, jobs: int, count: int | None = None
) -> int:
    """Returns 0 when stopped by a signal or after `count` observations."""
    stop = _Stop()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    ledger_ = project.ledger(config)
    done = 0
    try:
        while not stop.event.is_set() and (count is None or done < count):
            state = fold(read_events(ledger_.log))
            if state.mode in ("FROZEN", "HALTED"):
                attempts = deliver_due(project, config, datetime.now(UTC))
                output.write(f"watch: not observing. {narrative.status_text(state)}")
                output.write(narrative.attempts_text(attempts))
            else:
                try:
                    observation = observe(project, config, jobs, wait=True)
                    output.write(narrative.observation_text(observation.event))
                    output.write(narrative.attempts_text(list(observation.attempts)))
                except RefusedError as exc:  # frozen meanwhile by another process
                    output.write(f"watch: {exc.message}")
            done += 1
            if count is None or done < count:
                stop.event.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.signal is not None:
        output.write(
            f"watch: stopped by signal {signal.Signals(stop.signal).name} between observations"
        )
    return 0
