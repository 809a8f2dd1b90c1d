"""Events: the RUNTIME_EVENT of an observation, its identifiers, and its JSON Schema.

An event is built from typed records (msgspec), so the JSON Schema that ships in the package
(`sealguard schema event`) is generated from the very types that write events. No floats:
durations are whole milliseconds.
"""

import secrets
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from sealguard.classes import ClassName, Mode, Severity

ID_PREFIXES = ("RTE", "SNP", "ESC", "DEC", "INC", "EXP", "PRO")
Purpose = Literal["observation", "certification"]


def iso_utc(moment: datetime) -> str:
    """A moment as events write it: UTC, to the second, ISO 8601 with `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(prefix: str, now: datetime) -> str:
    """`PREFIX_YYYYMMDD_HHMMSS_xxxxxxxx`, UTC, 8 random hex digits."""
    return f"{prefix}_{now:%Y%m%d_%H%M%S}_{secrets.token_hex(4)}"


class Step(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    klass: ClassName = msgspec.field(name="class")
    matched: bool
    detail: str
    probe: str | None = None


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    invariant: str
    change: str
    path: str
    detail: str


class StatusChange(msgspec.Struct, frozen=True, kw_only=True):
    test: str
    before: str | None
    after: str | None


class Survivor(msgspec.Struct, frozen=True, kw_only=True):
    """A process the probe left running at its end; sealguard killed it."""

    pid: int
    command: str  # its command line, at most 500 characters


class ProbeRecord(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    kind: str
    exit_code: int | None
    expect_exit: int
    timed_out: bool
    signal: int | None
    duration_ms: int
    verdict: Literal["PASS", "FAIL"]
    baseline_verdict: Literal["PASS", "FAIL"] | None
    output_sha256: str | None
    baseline_output_sha256: str | None
    report_state: str
    report_problem: str
    test_count: int
    baseline_test_count: int | None
    status_counts: dict[str, int]
    status_changes: list[StatusChange]
    format_changed: bool
    tool_version: str | None
    baseline_tool_version: str | None
    signatures: list[str]
    console: dict[str, int] | None  # the runner's console summary (passed, failed, errors, skipped)
    stdout_sha256: str
    stderr_sha256: str
    survivors: list[Survivor] = msgspec.field(default_factory=list)


class SnapshotRecord(msgspec.Struct, frozen=True, kw_only=True):
    snapshot_id: str
    path: str  # relative to the project root
    files: dict[str, str]  # path inside the snapshot -> sha256


class RuntimeEvent(msgspec.Struct, frozen=True, kw_only=True):
    event_id: str
    classification: ClassName
    severity: Severity
    observed_at: str  # UTC, ISO 8601
    commit: str | None
    baseline_sha256: str | None
    state_before: Mode
    state_after: Mode
    why: list[Step]  # every rule tried, in order; `matched` marks the ones that decided
    invariants_before: list[Violation]
    invariants_after: list[Violation]
    probes_run: bool
    probes: list[ProbeRecord]
    snapshot: SnapshotRecord | None
    export: str | None  # the full log export, relative to the project root
    actions: list[str]
    next: str  # what the runbook expects now
    sealguard_version: str
    # added in 0.3 (absent from older events): a certification run after a decision, and the
    # planned change (authorised before deployment) this observation saw and installed
    purpose: Purpose = "observation"
    authorised_change: str | None = None


def to_data(event: RuntimeEvent) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(event)
    return data


def from_data(data: dict[str, Any]) -> RuntimeEvent:
    fields = {k: v for k, v in data.items() if k not in ("seq", "ts", "type")}
    return msgspec.convert(fields, RuntimeEvent)


def event_schema() -> dict[str, Any]:
    schema = msgspec.json.schema(RuntimeEvent)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sealguard RUNTIME_EVENT"
    return schema
