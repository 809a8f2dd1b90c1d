"""What `fleet status` shows of one log (its head), made on the host at each shipment.

The head is folded from the log's notable events (ledger/journal.py) by the functions behind
`sealguard status` and `sealguard report`: the state of observation (state.standing), the open
escalations (outbox.fold) and the trail of drifts, incidents and decisions (report/trail.fold).
So an act reads its digest and the lines after it, never the whole log. The head is derived
data, replaced at each report and never evidence (the lines are): the database keeps it beside
the log for `fleet status` and `fleet report`. It holds nothing of the moment but when it was
made: deadlines, not "overdue", which `fleet status` works out when it shows them.

Keys (`FORMAT` 1): format, state, since, because, reason, next, baseline_version,
baseline_sha256, last_observation {event_id, classification, observed_at, purpose} or null,
escalations [{escalation_id, event_id, classification, created_at, deadline_at, overdue_at,
count, channels {name: state}}] (the open ones), incident {incident_id, event_id, since, report}
or null, schedule {every_seconds, grace_seconds} or null, history {counts {class: n}, drifts
[{event_id, classification, observed_at, purpose, rules}], incidents [{incident_id, event_id,
opened_at, closed_by}], decisions [{decision_id, decision, answers, incident, decided_at,
signers}]}: the last `KEPT` of each list.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sealguard.escalation import outbox
from sealguard.ledger.layout import Ledger
from sealguard.report import trail
from sealguard.state import ObservationState, observed_at, standing

FORMAT = 1
KEPT = 20  # drifts, incidents and decisions a head keeps: the newest ones
Event = dict[str, Any]


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat() + "Z"


def _escalation(esc: outbox.Escalation) -> dict[str, Any]:
    return {
        "escalation_id": esc.escalation_id,
        "event_id": esc.event_id,
        "classification": esc.classification,
        "created_at": _stamp(esc.created_at),
        "deadline_at": _stamp(esc.deadline_at),
        "overdue_at": _stamp(esc.overdue_at),  # found overdue and handed on by the host
        "count": esc.count,
        "channels": {name: d.state for name, d in esc.deliveries.items()},
    }


def _last_observation(state: ObservationState) -> dict[str, Any] | None:
    if not state.recent:
        return None
    last = state.recent[-1]
    return {
        "event_id": last.get("event_id"),
        "classification": last.get("classification"),
        "observed_at": observed_at(last),
        "purpose": last.get("purpose") or "observation",
    }


def _history(events: list[Event]) -> dict[str, Any]:
    """The drifts, incidents and decisions of the whole log, as `sealguard report` folds them."""
    found = trail.fold(trail.Period(), "", [], events)
    counts: dict[str, int] = {}
    for notable in found.notable:
        counts[notable.classification] = counts.get(notable.classification, 0) + 1
    closed = {d.incident: d.decision_id for d in found.decisions if d.decision == "close-incident"}
    return {
        "counts": counts,
        "drifts": [
            {
                "event_id": n.event_id,
                "classification": n.classification,
                "observed_at": n.observed_at,
                "purpose": n.purpose,
                "rules": [
                    f"{s.rule} {s.probe or ''} {s.detail}".replace("  ", " ") for s in n.rules
                ],
            }
            for n in found.notable[-KEPT:]
        ],
        "incidents": [
            {
                "incident_id": i.incident_id,
                "event_id": i.event_id,
                "opened_at": i.opened_at,
                "closed_by": closed.get(i.incident_id),
            }
            for i in found.incidents[-KEPT:]
        ],
        "decisions": [
            {
                "decision_id": d.decision_id,
                "decision": d.decision,
                "answers": d.answers,
                "incident": d.incident,
                "decided_at": d.decided_at,
                "signers": [f"{s.name} ({s.id})" for s in d.signers],
            }
            for d in found.decisions[-KEPT:]
        ],
    }


def summary(
    events: Iterable[Event], schedule: tuple[float, float | None] | None = None
) -> dict[str, Any]:
    """The head of a log whose notable events are `events` (in log order). Pure."""
    kept = list(events)
    state = standing(kept, sealed=True)  # only a sealed log is shipped
    escalations = [e for e in outbox.fold(kept).values() if e.open]
    incident = state.incident
    return {
        "format": FORMAT,
        "state": state.mode,
        "since": state.since,
        "because": state.because,
        "reason": state.reason,
        "next": state.next_step,
        "baseline_version": state.version,
        "baseline_sha256": state.baseline_sha256,
        "last_observation": _last_observation(state),
        "escalations": [_escalation(e) for e in escalations],
        "incident": incident.__dict__ if incident else None,
        "schedule": (
            {"every_seconds": schedule[0], "grace_seconds": schedule[1]} if schedule else None
        ),
        "history": _history(kept),
    }


def head(ledger: Ledger, at_seq: int) -> dict[str, Any]:
    """The head of the log's first `at_seq` lines (those the database holds), from its digest
    and the lines after it."""
    from sealguard.ledger.journal import notable_events

    events = (e for e in notable_events(ledger) if int(e.get("seq", -1)) < at_seq)
    return summary(events, ledger.fleet.schedule if ledger.fleet else None)
