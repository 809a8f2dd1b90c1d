"""What an observation found, as plain data: the input of the pure classifier.

The edges (probe runs, readers, verify) fill these in; `classify.py` decides from them alone.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

TestStatus = Literal["passed", "failed", "skipped", "error", "todo"]
ReportState = Literal["ok", "missing", "empty", "unparseable", "too_large", "none"]
Verdict = Literal["PASS", "FAIL"]


@dataclass(frozen=True)
class ConsoleSummary:
    """What a runner's console summary says, when one was found."""

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    found: bool = False  # a summary line was recognised
    failing: tuple[str, ...] = ()  # the tests the console names as failing

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped

    @property
    def all_passed(self) -> bool:
        return self.found and self.failed == 0 and self.errors == 0 and self.passed > 0


@dataclass(frozen=True)
class Survivor:
    """A process of a probe's tree still running when the probe ended; it was killed."""

    pid: int
    command: str


@dataclass(frozen=True)
class ProbeBaseline:
    """What was sealed for one probe."""

    output_sha256: str
    verdict: Verdict
    tests: dict[str, TestStatus]
    test_count: int
    format: dict[str, Any]
    tool_version: str | None


@dataclass(frozen=True)
class ProbeFacts:
    """One probe run, as observed."""

    name: str
    kind: str
    exit_code: int | None
    expect_exit: int
    timed_out: bool = False
    signal: int | None = None
    not_started: str = ""
    report_state: ReportState = "none"
    report_problem: str = ""
    tests: dict[str, TestStatus] = field(default_factory=dict)
    test_count: int = 0  # from the report, else from the console summary
    console: ConsoleSummary = ConsoleSummary()
    signatures: tuple[str, ...] = ()  # recognised console signatures, e.g. "npm:EINTEGRITY"
    cause: str = ""  # the console's line saying what was not found (`sh: 1: x: not found`)
    suite_failures: tuple[str, ...] = ()  # messages of suites that failed before any test ran
    output_sha256: str | None = None
    format: dict[str, Any] = field(default_factory=dict)
    tool_version: str | None = None
    # the runner recognised on the console: "pytest", "vitest", "jest", "node", "npm"
    runner: str | None = None
    survivors: tuple[Survivor, ...] = ()  # processes it left running, killed at its end
    baseline: ProbeBaseline | None = None

    @property
    def verdict(self) -> Verdict:
        failing = any(s in ("failed", "error") for s in self.tests.values())
        return "PASS" if self.exit_code == self.expect_exit and not failing else "FAIL"


@dataclass(frozen=True)
class Violation:
    """One invariant found violated (a difference from `verify`)."""

    invariant: str
    change: str
    path: str
    detail: str


@dataclass(frozen=True)
class ObservationFacts:
    before: tuple[Violation, ...]  # invariants checked before the probes
    after: tuple[Violation, ...] = ()  # and after them (a probe that wrote into sealed paths)
    probes: tuple[ProbeFacts, ...] = ()
    probes_run: bool = True
