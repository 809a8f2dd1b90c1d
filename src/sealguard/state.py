"""The state of observation, folded from the governance log's events. Pure: no I/O.

There is no state file that could disagree with the log: OBSERVING after a sealing, FROZEN
after a PRODUCT_DRIFT, HALTED after an INCIDENT. Only later human acts (decisions) move it on.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sealguard.classes import Mode, lookup

BASELINE_EVENTS = frozenset({"baseline_sealed"})
RUNTIME_EVENT = "runtime_event"
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

    @property
    def next_step(self) -> str:
        return NEXT_STEP[self.mode]


def _matched(event: dict[str, Any]) -> str:
    steps = [s for s in event.get("why", []) if s.get("matched")]
    return "; ".join(
        f"{s['rule']} {s.get('probe') or ''} {s['detail']}".replace("  ", " ") for s in steps[:3]
    )


def _after_runtime_event(state: ObservationState, event: dict[str, Any]) -> None:
    klass = event.get("classification")
    state.recent = [*state.recent[-4:], event]
    if klass == "STABLE" and event.get("snapshot"):
        state.last_stable_snapshot_day = str(event.get("observed_at", ""))[:10]
    known = lookup(klass)
    target = known.stops if known else None
    if target and (state.mode != "HALTED"):
        state.mode, state.since, state.because = target, event.get("ts"), event.get("event_id")
        state.reason = f"{klass}: {_matched(event)}"


def fold(events: Iterable[dict[str, Any]]) -> ObservationState:
    """The state of observation after `events`, in log order."""
    state = ObservationState()
    for event in events:
        kind = event.get("type")
        if kind in BASELINE_EVENTS:
            state.mode, state.since = "OBSERVING", event.get("ts")
            state.because, state.reason = f"seq {event.get('seq')}", "baseline sealed"
            state.baseline_sha256 = event.get("baseline_sha256")
        elif kind == RUNTIME_EVENT:
            _after_runtime_event(state, event)
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
