"""The four classes and the states of observation, defined once. Pure data.

Everything that needs a class's exit code, severity, rank, the state it leaves observation in,
the actions it calls for or its PagerDuty severity reads this table (the runbook's "actions by
class"), so no module keeps a copy that could disagree.
"""

from dataclasses import dataclass
from typing import Literal, cast

from sealguard.exitcodes import ExitCode

Class = Literal["STABLE", "TOOLING_DRIFT", "PRODUCT_DRIFT", "INCIDENT"]
Mode = Literal["UNSEALED", "OBSERVING", "FROZEN", "HALTED"]
Severity = Literal["normal", "minor", "major", "critical"]


@dataclass(frozen=True)
class ClassInfo:
    exit_code: ExitCode
    rank: int  # the more severe class wins when probes disagree
    severity: Severity
    stops: Mode | None  # the state the class puts observation in, when it stops it
    actions: tuple[str, ...]  # beyond the snapshot and diff every non-STABLE event keeps
    pagerduty: str  # PagerDuty Events v2 severity


CLASSES: dict[Class, ClassInfo] = {
    "STABLE": ClassInfo(ExitCode.OK, 0, "normal", None, (), "info"),
    "TOOLING_DRIFT": ClassInfo(ExitCode.TOOLING_DRIFT, 1, "minor", None, (), "warning"),
    "PRODUCT_DRIFT": ClassInfo(
        ExitCode.PRODUCT_DRIFT, 2, "major", "FROZEN", ("log export", "freeze"), "error"
    ),
    "INCIDENT": ClassInfo(
        ExitCode.INCIDENT, 3, "critical", "HALTED", ("log export", "halt"), "critical"
    ),
}


def info_of(klass: str) -> ClassInfo | None:
    """The table's row for a class read from outside (the log, a packet), or None."""
    return CLASSES.get(cast(Class, klass))


def stops(klass: str) -> Mode | None:
    """The state a class puts observation in (FROZEN, HALTED), or None when it goes on."""
    info = info_of(klass)
    return info.stops if info else None


def state_after(klass: str, current: Mode) -> Mode:
    """The state an event of `klass` leaves observation in; HALTED is never eased to FROZEN."""
    target = stops(klass)
    return current if target is None or current == "HALTED" else target
