"""The four classes of an observation, and what each one means, defined once. Pure.

Every table that maps a class to something (the exit code, the event's severity, the state
observation enters, the actions taken, PagerDuty's severity) reads `CLASSES`; no other module
spells such a mapping out again.
"""

from dataclasses import dataclass
from typing import Literal

from sealguard.exitcodes import ExitCode

ClassName = Literal["STABLE", "TOOLING_DRIFT", "PRODUCT_DRIFT", "INCIDENT"]
Mode = Literal["UNSEALED", "OBSERVING", "FROZEN", "HALTED"]
Severity = Literal["normal", "minor", "major", "critical"]


@dataclass(frozen=True)
class ObservationClass:
    name: ClassName
    rank: int  # an observation takes the highest rank among its probes
    exit_code: ExitCode
    severity: Severity  # as the RUNTIME_EVENT writes it
    stops: Mode | None  # the state observation enters after it; None: it goes on
    actions: tuple[str, ...]  # what the runbook does at once, besides keeping evidence
    pagerduty: str  # PagerDuty's severity for its escalation


CLASSES: dict[ClassName, ObservationClass] = {
    c.name: c
    for c in (
        ObservationClass("STABLE", 0, ExitCode.OK, "normal", None, (), "info"),
        ObservationClass("TOOLING_DRIFT", 1, ExitCode.TOOLING_DRIFT, "minor", None, (), "warning"),
        ObservationClass(
            "PRODUCT_DRIFT", 2, ExitCode.PRODUCT_DRIFT, "major", "FROZEN",
            ("log export", "freeze"), "error",
        ),
        ObservationClass(
            "INCIDENT", 3, ExitCode.INCIDENT, "critical", "HALTED",
            ("log export", "halt"), "critical",
        ),
    )
}  # fmt: skip
ESCALATED: tuple[ClassName, ...] = tuple(name for name in CLASSES if name != "STABLE")
_BY_TEXT: dict[str, ObservationClass] = {c.name: c for c in CLASSES.values()}


def lookup(name: object) -> ObservationClass | None:
    """The class a log record names, or None when it names none (records are untyped dicts)."""
    return _BY_TEXT.get(name) if isinstance(name, str) else None
