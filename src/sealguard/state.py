"""The state of observation, folded from the governance log's events. Pure: no I/O.

There is no state file that could disagree with the log: OBSERVING after a sealing, FROZEN
after a PRODUCT_DRIFT, HALTED after an INCIDENT. Only later human acts (decisions) move it on.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sealguard.classes import Mode, lookup

BASELINE_EVENTS = frozenset({"baseline_sealed", "baseline_installed"})
RUNTIME_EVENT = "runtime_event"
DECISION_EVENT = "decision"
INCIDENT_OPENED = "incident_opened"
NEXT_STEP = {
    "OBSERVING": "observation continues",
    "FROZEN": "observation frozen: an Architect must decide Accept, Investigate or Rollback",
    "HALTED": "total stop: post-mortem (incident template), root cause, "
    "a formal Architect decision, "
    "correction or rollback by people, then a re-certification run that comes out STABLE",
    "UNSEALED": "run `sealguard seal`",
}


def baseline_record(events: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The last event that put a baseline in force, or None when none did."""
    found = None
    for event in events:
        if event.get("type") in BASELINE_EVENTS:
            found = event
    return found


def authority_text(events: Iterable[dict[str, Any]]) -> str | None:
    """The AUTHORITY.toml text journaled with the baseline in force, or None."""
    text = (baseline_record(events) or {}).get("authority")
    return text if isinstance(text, str) else None


@dataclass(frozen=True)
class Investigation:
    """An Investigate decision: observation stays FROZEN, under investigation by people."""

    decision: str
    by: str  # the printed names of its signers
    reason: str
    since: str


@dataclass(frozen=True)
class Awaiting:
    """A decision (rollback, or a re-seal while stopped) that waits for a STABLE certification."""

    decision: str
    kind: str
    version: int


@dataclass(frozen=True)
class Authorised:
    """A planned change signed before deployment: installed by the observation that sees it."""

    decision: str
    proposal: str
    version: int
    baseline_sha256: str


@dataclass(frozen=True)
class OpenIncident:
    incident_id: str
    event_id: str
    since: str
    report: str  # the report's path, relative to the project root


@dataclass
class ObservationState:
    mode: Mode = "UNSEALED"
    since: str | None = None  # ts of the event that set the mode
    because: str | None = None  # its event id (or "seq N")
    reason: str = ""
    baseline_sha256: str | None = None
    last_stable_snapshot_day: str | None = None  # YYYY-MM-DD (UTC)
    recent: list[dict[str, Any]] = field(default_factory=list)  # the last runtime events
    log_lost: bool = False  # sealed, but the log that says so is gone, empty or unreadable
    version: int = 0  # the baseline version in force (v1 is what `seal` made)
    versions: dict[int, str] = field(default_factory=dict)  # every version ever installed: sha256
    investigation: Investigation | None = None
    awaiting: Awaiting | None = None
    authorised: Authorised | None = None
    incident: OpenIncident | None = None
    certified: str | None = None  # the STABLE certification of the open incident's decision
    last_decision: dict[str, Any] | None = None

    @property
    def next_step(self) -> str:
        if self.awaiting:
            return (
                f"people restore the build to v{self.awaiting.version} "
                "(or deploy the re-sealed one), then `sealguard certify` must come out STABLE"
            )
        if self.incident and self.certified:
            return (
                f"close the incident: `sealguard incident close {self.incident.incident_id} "
                "--reason TEXT --key KEY` (every section of its report written)"
            )
        if self.incident:
            return (
                f"write {self.incident.report} (impact, root cause, corrective and preventive "
                "actions); correct the build and `sealguard propose` its re-seal, or decide "
                f"`rollback --to vN` on {self.incident.incident_id}; then `sealguard certify`"
            )
        if self.investigation:
            return (
                "under investigation: an Architect must still decide "
                f"`sealguard decide {self.because} accept|rollback --to vN --reason TEXT --key KEY`"
            )
        if self.mode == "FROZEN":
            return (
                f"{NEXT_STEP['FROZEN']}: `sealguard decide {self.because} "
                "accept|investigate|rollback --to vN --reason TEXT --key KEY`"
            )
        if self.authorised:
            a = self.authorised
            return (
                f"deploy the authorised change exactly as proposed ({a.proposal}); the next "
                f"observation that sees it installs v{a.version}"
            )
        return NEXT_STEP[self.mode]


def _matched(event: dict[str, Any]) -> str:
    steps = [s for s in event.get("why", []) if s.get("matched")]
    return "; ".join(
        f"{s['rule']} {s.get('probe') or ''} {s['detail']}".replace("  ", " ") for s in steps[:3]
    )


def observed_at(event: dict[str, Any]) -> Any:
    """An observation's one moment: when it started, as its id says (`observed_at`); the log
    line's `ts` is when it was journaled, after the probes ran. Older events: their `ts`."""
    return event.get("observed_at") or event.get("ts")


def _found_at(state: ObservationState, opened: dict[str, Any]) -> Any:
    """An incident is open since the observation that found it (journaled just before it)."""
    found = (e for e in state.recent if e.get("event_id") == opened.get("event_id"))
    return observed_at(next(found, opened))


def _after_runtime_event(state: ObservationState, event: dict[str, Any]) -> None:
    klass = event.get("classification")
    state.recent = [*state.recent[-4:], event]
    if klass == "STABLE" and event.get("snapshot"):
        state.last_stable_snapshot_day = str(event.get("observed_at", ""))[:10]
    if event.get("purpose") == "certification" and state.awaiting:
        if klass == "STABLE":
            _certified(state, event)
            return
        if klass != "INCIDENT":  # not restored yet: the decision stands, certify again
            return
    known = lookup(klass)
    target = known.stops if known else None
    if target and (state.mode != "HALTED"):
        state.mode, state.since, state.because = target, observed_at(event), event.get("event_id")
        state.reason = f"{klass}: {_matched(event)}"
        state.investigation = state.awaiting = state.authorised = None


def _certified(state: ObservationState, event: dict[str, Any]) -> None:
    """A STABLE certification after a decision: observation resumes, unless an incident is
    open (then its closing decision resumes it)."""
    assert state.awaiting is not None
    done = f"certified STABLE against v{state.awaiting.version} ({event.get('event_id')})"
    state.awaiting = None
    if state.incident:
        state.certified = str(event.get("event_id"))
        state.reason = f"{state.reason.split(' | ')[0]} | {done}; the incident can be closed"
        return
    state.mode, state.since, state.because = "OBSERVING", observed_at(event), event.get("event_id")
    state.reason, state.investigation = done, None


def signer_names(event: dict[str, Any]) -> str:
    """The printed names of a decision's signers, with their ids (§11.50(a))."""
    return ", ".join(f"{s.get('name')} ({s.get('id')})" for s in event.get("signers", []))


def _after_decision(state: ObservationState, event: dict[str, Any]) -> None:
    state.last_decision = event
    kind, decision_id, ts = event.get("decision"), str(event.get("decision_id")), event.get("ts")
    who = signer_names(event)
    result = event.get("result") or {}
    said = f"{kind} by {who}, {event.get('meaning')}: {event.get('reason')}"
    if kind == "investigate":
        state.investigation = Investigation(decision_id, who, str(event.get("reason")), str(ts))
        state.reason = f"{state.reason.split(' | ')[0]} | under investigation: {said}"
    elif kind in ("accept", "close-incident"):
        state.mode, state.since, state.because, state.reason = "OBSERVING", ts, decision_id, said
        state.investigation = state.awaiting = state.incident = None
        state.certified = None
    elif kind in ("reseal", "amend") and state.mode == "OBSERVING":
        state.authorised = Authorised(
            decision_id,
            str(result.get("proposal")),
            int(result.get("version", 0)),
            str(result.get("baseline_sha256")),
        )
    elif kind in ("rollback", "reseal", "amend"):
        state.awaiting = Awaiting(decision_id, str(kind), int(result.get("version", 0)))
        state.investigation, state.certified = None, None
        state.reason = (
            f"{state.reason.split(' | ')[0]} | {said}; "
            f"awaiting a STABLE certification against v{state.awaiting.version}"
        )


def _after_install(state: ObservationState, event: dict[str, Any]) -> None:
    state.baseline_sha256 = event.get("baseline_sha256")
    state.version = int(event.get("version", state.version + 1))
    if state.baseline_sha256:
        state.versions.setdefault(state.version, state.baseline_sha256)
    if state.authorised and event.get("decision") == state.authorised.decision:
        state.authorised = None


def fold(events: Iterable[dict[str, Any]]) -> ObservationState:
    """The state of observation after `events`, in log order."""
    state = ObservationState()
    for event in events:
        kind = event.get("type")
        if kind == "baseline_sealed":
            state.mode, state.since = "OBSERVING", event.get("ts")
            state.because, state.reason = f"seq {event.get('seq')}", "baseline sealed"
            _after_install(state, {**event, "version": 1})
        elif kind == "baseline_installed":
            _after_install(state, event)
        elif kind == RUNTIME_EVENT:
            _after_runtime_event(state, event)
        elif kind == DECISION_EVENT:
            _after_decision(state, event)
        elif kind == INCIDENT_OPENED:
            state.incident = OpenIncident(
                str(event.get("incident_id")),
                str(event.get("event_id")),
                str(_found_at(state, event)),
                str(event.get("report")),
            )
            state.awaiting, state.certified = None, None

    return state


LOG_LOST = (
    "INCIDENT: the build was sealed (BASELINE_REF.sha256 exists) but the governance log is "
    "gone, empty or unreadable; run `sealguard verify`"
)


def standing(events: Iterable[dict[str, Any]] | None, sealed: bool) -> ObservationState:
    """The state, knowing whether a baseline exists: a sealed build is never "unsealed".

    `events` is None when the log cannot be read."""
    state = fold(events or [])
    if state.mode == "UNSEALED" and sealed:
        return ObservationState(mode="HALTED", because="the log", reason=LOG_LOST, log_lost=True)
    return state
