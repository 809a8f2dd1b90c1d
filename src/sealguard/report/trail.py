"""The auditor's report as data: the audit trail of a period, folded from the log's events. Pure.

A `Trail` holds exactly what the period's events (and the evidence descriptors they carry: file
names and SHA-256s) determine: every observation, the cause and evidence of each one that was
not STABLE, the escalations, decisions, baseline versions and incidents. It holds nothing of
the moment it was made (no generation time, no current state, no verification result, no
reviews), so `content_sha256` of the same period of the same log is the same whenever it is
computed: a signature over it (`sealguard review`) can be checked again later by folding the
period again. `Report` wraps a trail with what the page shows besides, as of when it was made.

Membership: an observation belongs to the period by its one moment, `observed_at`; every other
event by its journal time `ts`. `since` is inclusive, `until` exclusive. The events come from a
log someone may have tampered with: a field of the wrong type is a DataError naming its line.
"""

import hashlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import msgspec
import rfc8785

from sealguard.errors import DataError
from sealguard.events import StatusChange, Step, Violation
from sealguard.ledger.canonical import SAFE_INT, strays

FORMAT = "sealguard-trail/1"
Event = dict[str, Any]
T = TypeVar("T")


class Period(msgspec.Struct, frozen=True, kw_only=True):
    since: str | None = None  # UTC, ISO 8601; inclusive
    until: str | None = None  # exclusive

    def holds(self, moment: datetime | None) -> bool:
        if moment is None:
            return False
        if self.since is not None and moment < _moment(self.since):
            return False
        return self.until is None or moment < _moment(self.until)


class Observation(msgspec.Struct, frozen=True, kw_only=True):
    """One observation, as the timeline and plots draw it."""

    seq: int
    event_id: str
    observed_at: str
    classification: str
    purpose: str = "observation"
    duration_ms: int = 0  # every probe's, summed
    test_count: int = 0  # every probe's, summed


class ProbeOutcome(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    verdict: str
    baseline_verdict: str | None = None
    exit_code: int | None = None
    timed_out: bool = False
    duration_ms: int = 0
    test_count: int = 0
    output_sha256: str | None = None
    baseline_output_sha256: str | None = None
    report_state: str = ""
    report_problem: str = ""
    format_changed: bool = False
    status_changes: list[StatusChange] = []


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    snapshot_id: str
    path: str  # relative to the project root
    files: dict[str, str]  # path inside the snapshot -> sha256, as the event recorded them


class Notable(msgspec.Struct, frozen=True, kw_only=True):
    """An observation that was not STABLE: why, what changed, and its evidence."""

    seq: int
    event_id: str
    observed_at: str
    classification: str
    purpose: str = "observation"
    state_before: str = ""
    state_after: str = ""
    path: list[str] = []  # every rule tried, in order: the path through the decision tree
    rules: list[Step] = []  # the rules that matched: the reason
    violations: list[Violation] = []  # invariants violated (changed sealed files, …)
    probes: list[ProbeOutcome] = []
    evidence: Evidence | None = None
    export: str | None = None


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    channel: str
    attempt: int
    outcome: str
    detail: str = ""
    attempted_at: str = ""


class Acknowledgement(msgspec.Struct, frozen=True, kw_only=True):
    by: str
    at: str
    note: str = ""


class EscalationRecord(msgspec.Struct, kw_only=True):
    escalation_id: str
    event_id: str
    classification: str
    channels: list[str]
    deadline: str = ""
    created_at: str = ""
    deadline_at: str = ""
    attempts: list[Attempt] = []
    undeliverable: list[str] = []
    overdue_at: str | None = None
    handed_to: list[str] = []
    grouped: int = 0  # later observations of the same cause grouped into it
    acknowledged: Acknowledgement | None = None
    # created before the period: shown for what the period's events did to it (an ack, a retry)
    before_period: bool = False


class Signer(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    id: str
    key: str = ""  # the key's fingerprint


class DecisionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A signed decision: what, on what, by whom (printed names), when, meaning (§11.50)."""

    seq: int
    decision_id: str
    decision: str
    answers: str | None
    incident: str | None = None
    decided_at: str = ""
    meaning: str = ""
    reason: str = ""
    signers: list[Signer] = []
    version: int | None = None  # the baseline version it put in force or awaits, if any


class VersionRecord(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    baseline_sha256: str
    at: str
    decision: str | None = None


class IncidentRecord(msgspec.Struct, frozen=True, kw_only=True):
    incident_id: str
    event_id: str
    opened_at: str
    report: str = ""


class RefusalRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An attempt refused and journaled: a decision, a review, an observation or a
    certification (21 CFR Part 11 §11.300(d): attempts at unauthorised use are recorded)."""

    seq: int
    type: str  # decision_refused, review_refused, observation_refused, certification_refused
    at: str
    target: str = ""  # what the attempt was on: an event, a proposal, an incident, a period
    reason_code: str = ""
    message: str = ""
    claimed_signers: list[str] = []  # the key fingerprints its signatures claimed


REFUSALS = frozenset(
    {"decision_refused", "review_refused", "observation_refused", "certification_refused"}
)


class Trail(msgspec.Struct, kw_only=True):
    """Everything the period's events determine; `content_sha256` hashes exactly this."""

    format: str = FORMAT
    origin: str = ""  # the log's origin (its key's name): which log this is
    period: Period = Period()
    observations: list[Observation] = []
    notable: list[Notable] = []
    escalations: list[EscalationRecord] = []
    decisions: list[DecisionRecord] = []
    versions: list[VersionRecord] = []
    incidents: list[IncidentRecord] = []
    refusals: list[RefusalRecord] = []


def content_sha256(trail: Trail) -> str:
    """SHA-256 (hex) of the trail's RFC 8785 canonical JSON."""
    return hashlib.sha256(canonical_bytes(trail)).hexdigest()


def canonical_bytes(trail: Trail) -> bytes:
    """RFC 8785: msgspec's sorted compact encoding gives the same bytes where no key is beyond
    ASCII and no integer beyond 2^53 (the ledger's own check relies on it: ledger/canonical.py),
    in C; elsewhere the `rfc8785` package, with such integers as decimal strings, as the log
    writes them. A long history's hundred thousand rows are one call instead of seconds."""
    data = msgspec.to_builtins(trail)
    if _plain(trail, data):
        return msgspec.json.encode(data, order="sorted")
    return bytes(rfc8785.dumps(_safe_integers(data)))


def _plain(trail: Trail, data: dict[str, Any]) -> bool:
    rows = (max(abs(o.seq), abs(o.duration_ms), abs(o.test_count)) for o in trail.observations)
    if max(rows, default=0) > SAFE_INT:
        return False
    return not strays({k: v for k, v in data.items() if k != "observations"})


def _safe_integers(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > SAFE_INT:
        return str(value)
    if isinstance(value, dict):
        return {k: _safe_integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe_integers(v) for v in value]
    return value


# -- folding ---------------------------------------------------------------------------------


def _moment(text: object) -> datetime:
    return datetime.fromisoformat(str(text))


def moment_of(event: Event) -> datetime | None:
    """When an event happened: an observation at `observed_at`, any other at `ts`."""
    text = event.get("observed_at") if event.get("type") == "runtime_event" else None
    try:
        return _moment(text or event.get("ts"))
    except ValueError:
        return None


def _typed(event: Event, kind: type[T], fields: dict[str, Any]) -> T:
    try:
        return msgspec.convert(fields, kind)
    except msgspec.ValidationError as exc:
        raise DataError(
            f"log line seq {event.get('seq')} ({event.get('type')}): {exc}; "
            "run `sealguard log verify`"
        ) from None


class ProbeTimes(msgspec.Struct, frozen=True):
    duration_ms: int = 0
    test_count: int = 0


class RowFields(msgspec.Struct, frozen=True):
    """The fields of a runtime_event that its row is made of (the others are not read)."""

    type: str
    seq: int
    event_id: str
    classification: str
    observed_at: str | None = None
    ts: str | None = None
    purpose: str | None = None
    probes: list[ProbeTimes] = []


def row_of(fields: RowFields) -> Observation:
    return Observation(
        seq=fields.seq,
        event_id=fields.event_id,
        observed_at=fields.observed_at or fields.ts or "",
        classification=fields.classification,
        purpose=fields.purpose or "observation",
        duration_ms=sum(p.duration_ms for p in fields.probes),
        test_count=sum(p.test_count for p in fields.probes),
    )


def observation_row(event: Event) -> Observation:
    """The timeline's row of a runtime_event."""
    return row_of(_typed(event, RowFields, event))


def _notable(event: Event) -> Notable:
    why = event.get("why") or []
    fields = {
        k: event.get(k)
        for k in ("seq", "event_id", "classification", "state_before", "state_after", "export")
    }
    fields.update(
        observed_at=event.get("observed_at") or event.get("ts"),
        purpose=event.get("purpose") or "observation",
        path=[_step_name(s) for s in why if isinstance(s, dict)],
        rules=[s for s in why if isinstance(s, dict) and s.get("matched")],
        violations=[
            *(event.get("invariants_before") or []),
            *(event.get("invariants_after") or []),
        ],
        probes=event.get("probes") or [],
        evidence=event.get("snapshot"),
    )
    return _typed(event, Notable, fields)


def _step_name(step: dict[str, Any]) -> str:
    """A rule of the path, with the probe it was tried on (each probe has its own path)."""
    probe = step.get("probe")
    return f"{step.get('rule')} [{probe}]" if probe else str(step.get("rule"))


def _decision(event: Event) -> DecisionRecord:
    answers = event.get("answers")
    result = event.get("result") if isinstance(event.get("result"), dict) else {}
    fields = {k: event.get(k) for k in ("seq", "decision_id", "decision", "incident")}
    fields.update(
        answers=answers.get("id") if isinstance(answers, dict) else answers,
        decided_at=event.get("decided_at") or event.get("ts") or "",
        meaning=event.get("meaning") or "",
        reason=event.get("reason") or "",
        signers=event.get("signers") or [],
        version=(result or {}).get("version"),
    )
    return _typed(event, DecisionRecord, fields)


class _Escalations:
    """The escalations created in the period, with what the period's events did to them."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.found: dict[str, EscalationRecord] = {}
        # every creation, also before the period: a later event of the period may answer one
        self.created = {
            str(e.get("escalation_id")): e for e in events if e.get("type") == "escalation_created"
        }

    def add(self, event: Event) -> None:
        kind = event.get("type")
        if kind == "escalation_created":
            created = _created(event)
            self.found[created.escalation_id] = created
            return
        escalation_id = str(event.get("escalation_id"))
        record = self.found.get(escalation_id)
        if record is None and escalation_id in self.created:
            record = _created(self.created[escalation_id], before_period=True)
            self.found[escalation_id] = record
        if record is not None:
            _apply(record, str(kind), event)


def _created(event: Event, before_period: bool = False) -> EscalationRecord:
    fields = {
        k: event.get(k)
        for k in ("escalation_id", "event_id", "classification", "channels", "deadline")
    }
    fields.update(
        created_at=event.get("created_at"),
        deadline_at=event.get("deadline_at"),
        before_period=before_period,
    )
    return _typed(event, EscalationRecord, fields)


def _apply(record: EscalationRecord, kind: str, event: Event) -> None:
    if kind == "escalation_attempt":
        record.attempts.append(_typed(event, Attempt, _pick(event, Attempt)))
    elif kind == "escalation_undeliverable":
        record.undeliverable += [str(c) for c in event.get("channels") or []]
    elif kind == "escalation_overdue":
        record.overdue_at = str(event.get("overdue_at"))
        record.handed_to += [str(c) for c in event.get("handed_to") or []]
    elif kind == "escalation_grouped":
        record.grouped += 1
    elif kind == "escalation_acknowledged":
        fields = {"by": event.get("by"), "at": event.get("ts"), "note": event.get("note") or ""}
        record.acknowledged = _typed(event, Acknowledgement, fields)


def _pick(event: Event, kind: type[msgspec.Struct]) -> dict[str, Any]:
    return {k: event[k] for k in kind.__struct_fields__ if k in event}


def _version(event: Event) -> VersionRecord:
    fields = {
        "version": 1 if event.get("type") == "baseline_sealed" else event.get("version"),
        "baseline_sha256": event.get("baseline_sha256"),
        "at": event.get("ts"),
        "decision": event.get("decision"),
    }
    return _typed(event, VersionRecord, fields)


def _incident(event: Event) -> IncidentRecord:
    fields = {
        "incident_id": event.get("incident_id"),
        "event_id": event.get("event_id"),
        "opened_at": event.get("ts"),
        "report": event.get("report") or "",
    }
    return _typed(event, IncidentRecord, fields)


def in_period(period: Period, events: Iterable[Event]) -> Iterator[Event]:
    return (e for e in events if period.holds(moment_of(e)))


def fold(
    period: Period, origin: str, rows: Iterable[Observation], events: Iterable[Event]
) -> Trail:
    """The trail of `period`: `rows` are every observation's row (in log order), `events` at
    least every event but the routine ones (STABLE observations without a snapshot, and the
    runtime area's bookkeeping), in log order; both may hold events outside the period."""
    trail = Trail(origin=origin, period=period)
    if period.since is None and period.until is None:
        trail.observations = list(rows)  # no time to read: a long history is kept whole
    else:
        trail.observations = [r for r in rows if period.holds(_parsed(r.observed_at))]
    events = list(events)
    escalations = _Escalations(events)
    for event in in_period(period, events):
        _add(trail, escalations, event)
    trail.escalations = list(escalations.found.values())
    return trail


def _parsed(text: str) -> datetime | None:
    try:
        return _moment(text)
    except ValueError:
        return None


def _add(trail: Trail, escalations: _Escalations, event: Event) -> None:
    kind = event.get("type")
    if kind == "runtime_event" and event.get("classification") != "STABLE":
        trail.notable.append(_notable(event))
    elif kind == "decision":
        trail.decisions.append(_decision(event))
    elif kind in ("baseline_sealed", "baseline_installed"):
        trail.versions.append(_version(event))
    elif kind == "incident_opened":
        trail.incidents.append(_incident(event))
    elif str(kind).startswith("escalation_"):
        escalations.add(event)
    elif kind in REFUSALS:
        trail.refusals.append(_refusal(event))


def _refusal(event: Event) -> RefusalRecord:
    period = event.get("period")
    target = event.get("target") or (
        f"{period.get('since')} – {period.get('until')}" if isinstance(period, dict) else ""
    )
    fields = {
        "seq": event.get("seq"),
        "type": event.get("type"),
        "at": event.get("ts"),
        "target": f"{event.get('decision') or ''} {target}".strip(),
        "reason_code": event.get("reason_code") or event.get("state") or "",
        "message": event.get("message") or event.get("reason") or "",
        "claimed_signers": event.get("claimed_signers") or [],
    }
    return _typed(event, RefusalRecord, fields)


# -- views of a trail --------------------------------------------------------------------------


class Span(msgspec.Struct, frozen=True, kw_only=True):
    """A run of consecutive STABLE observations, or one observation of another class."""

    classification: str
    start: str  # the first observation's observed_at
    end: str  # the last one's
    first_seq: int
    last_seq: int
    count: int
    event_id: str  # the first observation's


def spans(observations: Iterable[Observation]) -> list[Span]:
    """The timeline: consecutive STABLE observations collapse into one span."""
    found: list[Span] = []
    for row in observations:
        last = found[-1] if found else None
        if row.classification == "STABLE" and last and last.classification == "STABLE":
            found[-1] = msgspec.structs.replace(
                last, end=row.observed_at, last_seq=row.seq, count=last.count + 1
            )
            continue
        found.append(
            Span(
                classification=row.classification,
                start=row.observed_at,
                end=row.observed_at,
                first_seq=row.seq,
                last_seq=row.seq,
                count=1,
                event_id=row.event_id,
            )
        )
    return found


def escalations_of(trail: Trail, event_id: str) -> list[EscalationRecord]:
    return [e for e in trail.escalations if e.event_id == event_id]


def decisions_on(trail: Trail, event_id: str) -> list[DecisionRecord]:
    """Decisions that answer the event, or the incident it opened."""
    incidents = {i.incident_id for i in trail.incidents if i.event_id == event_id}
    return [
        d
        for d in trail.decisions
        if d.answers == event_id or (d.incident and d.incident in incidents)
    ]
