"""The outbox folded from the log: deliveries, backoff, overdue, fallback, acknowledgement."""

from datetime import datetime, timedelta

from sealguard.escalation.outbox import due, fold, handed_to, newly_overdue

T0 = datetime(2026, 11, 26, 18, 0, 0)


def _created(channels: list[str], deadline: timedelta, fallback: list[str] | None = None) -> dict:
    return {
        "type": "escalation_created", "escalation_id": "ESC_1", "event_id": "RTE_1", "classification": "PRODUCT_DRIFT",
        "channels": channels, "fallback": fallback or [], "created_at": T0.isoformat() + "Z",
        "deadline_at": (T0 + deadline).isoformat() + "Z", "file": "governance/runtime/outbox/ESC_1.json",
    }  # fmt: skip


def _attempt(channel: str, outcome: str, at: datetime) -> dict:
    return {"type": "escalation_attempt", "escalation_id": "ESC_1", "channel": channel, "outcome": outcome,
            "attempted_at": at.isoformat() + "Z", "detail": outcome}  # fmt: skip


def test_everything_is_due_at_first_then_backoff_doubles() -> None:
    events = [_created(["slack", "email"], timedelta(minutes=15))]
    assert [d.channel for _, d in due(fold(events).values(), T0)] == ["slack", "email"]
    events += [_attempt("slack", "failed", T0), _attempt("email", "delivered", T0)]
    escalations = fold(events)
    assert due(escalations.values(), T0 + timedelta(seconds=29)) == []
    assert [d.channel for _, d in due(escalations.values(), T0 + timedelta(seconds=30))] == [
        "slack"
    ]
    events.append(_attempt("slack", "failed", T0 + timedelta(seconds=30)))
    later = fold(events)
    assert due(later.values(), T0 + timedelta(seconds=89)) == []  # 30 s, then 60 s
    assert len(due(later.values(), T0 + timedelta(seconds=90))) == 1
    assert later["ESC_1"].open and not later["ESC_1"].delivered


def test_backoff_is_capped() -> None:
    events = [_created(["slack"], timedelta(hours=1))]
    at = T0
    for _ in range(12):
        events.append(_attempt("slack", "failed", at))
        at += timedelta(minutes=10)
    assert len(due(fold(events).values(), at)) == 1  # never more than 10 minutes apart


def test_rejected_is_never_retried_and_stays_open() -> None:
    events = [_created(["pagerduty"], timedelta(0)), _attempt("pagerduty", "rejected", T0)]
    escalations = fold(events)
    assert due(escalations.values(), T0 + timedelta(days=1)) == []
    assert escalations["ESC_1"].open


def test_overdue_hands_to_the_fallback_once() -> None:
    events = [
        _created(["slack"], timedelta(minutes=15), fallback=["pagerduty"]),
        _attempt("slack", "failed", T0),
    ]
    escalations = fold(events)
    assert newly_overdue(escalations.values(), T0 + timedelta(minutes=15)) == []  # strictly after
    overdue = newly_overdue(escalations.values(), T0 + timedelta(minutes=15, seconds=1))
    assert [e.escalation_id for e in overdue] == ["ESC_1"] and handed_to(overdue[0]) == [
        "pagerduty"
    ]
    events.append({"type": "escalation_overdue", "escalation_id": "ESC_1", "overdue_at": "2026-11-26T18:15:00Z",
                   "handed_to": ["pagerduty"]})  # fmt: skip
    escalations = fold(events)
    assert newly_overdue(escalations.values(), T0 + timedelta(hours=1)) == []
    assert sorted(d.channel for _, d in due(escalations.values(), T0 + timedelta(minutes=16))) == [
        "pagerduty",
        "slack",
    ]


def test_acknowledgement_closes() -> None:
    events = [
        _created(["slack"], timedelta(minutes=15)),
        _attempt("slack", "failed", T0),
        {"type": "escalation_acknowledged", "escalation_id": "ESC_1", "by": "alice", "note": "on it", "ts": "2026-11-26T18:01:00Z"},
    ]  # fmt: skip
    escalations = fold(events)
    assert not escalations["ESC_1"].open and escalations["ESC_1"].acknowledged_by == "alice"
    assert due(escalations.values(), T0 + timedelta(hours=1)) == []
    assert newly_overdue(escalations.values(), T0 + timedelta(hours=1)) == []
