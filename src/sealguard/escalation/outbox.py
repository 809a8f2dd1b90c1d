"""The outbox, folded from the governance log: every escalation and where its delivery stands.

Pure: no files, clocks or network. An escalation is written and journaled before any delivery
attempt; every attempt is journaled with its outcome; an overdue escalation is journaled and
handed to its row's fallback channels; an acknowledgement closes it. Nothing is ever dropped.
A channel that is not configured is journaled once as undeliverable and never attempted. An
observation of the same class and cause while an escalation is unacknowledged is grouped into
it (`escalation_grouped`: a count and the latest event), as Alertmanager groups alerts and
PagerDuty's dedup key folds repeats: one page per cause, not one per observation.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(minutes=10)
RETRY_FLOOR = timedelta(seconds=5)  # the shortest retry, even for a deadline of 0s
Outcome = Literal["delivered", "failed", "rejected"]


class AttemptRecord(TypedDict):
    """One delivery attempt, as journaled (`escalation_attempt`)."""

    escalation_id: str
    channel: str
    attempt: int
    outcome: Outcome
    detail: str
    attempted_at: str  # UTC, ISO 8601


@dataclass
class Delivery:
    channel: str
    state: Literal["pending", "delivered", "rejected", "undeliverable"] = "pending"
    attempts: int = 0
    last_attempt_at: datetime | None = None
    last_detail: str = ""

    def next_attempt_at(self, bound: timedelta = RETRY_CAP) -> datetime | None:
        """When the next attempt is due; None if done. The backoff doubles from 30 s, up to
        `bound` (the escalation's deadline: an INCIDENT's 0s retries within seconds) and never
        beyond 10 min, nor under 5 s."""
        if self.state != "pending":
            return None
        if self.last_attempt_at is None:
            return datetime.min
        limit = max(min(bound, RETRY_CAP), RETRY_FLOOR)
        delay: timedelta = min(RETRY_BASE * 2 ** (self.attempts - 1), limit)
        return self.last_attempt_at + delay


@dataclass
class Escalation:
    escalation_id: str
    event_id: str
    classification: str
    created_at: datetime
    deadline_at: datetime
    file: str
    fallback: list[str]
    cause: str = ""  # what groups repeats (see `cause_of`); "" in logs written before grouping
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    overdue_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    note: str = ""
    count: int = 1  # observations grouped into it, the first included
    latest_event_id: str = ""
    latest_at: datetime | None = None

    def __post_init__(self) -> None:
        self.latest_event_id = self.latest_event_id or self.event_id

    @property
    def delivered(self) -> bool:
        return all(d.state == "delivered" for d in self.deliveries.values())

    @property
    def open(self) -> bool:
        return self.acknowledged_by is None and not self.delivered

    @property
    def retry_bound(self) -> timedelta:
        return self.deadline_at - self.created_at

    @property
    def undeliverable(self) -> list[str]:
        return [c for c, d in self.deliveries.items() if d.state == "undeliverable"]

    def time_left(self, now: datetime) -> timedelta:
        return self.deadline_at - now


def _when(text: Any) -> datetime:
    value = datetime.fromisoformat(str(text))
    return value.replace(tzinfo=None) if value.tzinfo else value


def fold(events: Iterable[dict[str, Any]]) -> dict[str, Escalation]:
    """Every escalation the log knows, by id, as its events left it. Times are naive UTC."""
    found: dict[str, Escalation] = {}
    for event in events:
        kind = event.get("type", "")
        if kind == "escalation_created":
            created = Escalation(
                event["escalation_id"],
                event["event_id"],
                event["classification"],
                _when(event["created_at"]),
                _when(event["deadline_at"]),
                event["file"],
                list(event.get("fallback", [])),
                event.get("cause", ""),
            )
            created.deliveries = {c: Delivery(c) for c in event["channels"]}
            found[created.escalation_id] = created
        elif kind.startswith("escalation_") and (esc := found.get(event.get("escalation_id", ""))):
            _apply(esc, kind, event)
    return found


def _apply(esc: Escalation, kind: str, event: dict[str, Any]) -> None:
    if kind == "escalation_attempt":
        delivery = esc.deliveries.setdefault(event["channel"], Delivery(event["channel"]))
        delivery.attempts += 1
        delivery.last_attempt_at = _when(event["attempted_at"])
        delivery.last_detail = event.get("detail", "")
        if event["outcome"] in ("delivered", "rejected"):
            delivery.state = event["outcome"]
    elif kind == "escalation_undeliverable":
        for channel in event["channels"]:
            esc.deliveries.setdefault(channel, Delivery(channel)).state = "undeliverable"
    elif kind == "escalation_grouped":
        esc.count += 1
        esc.latest_event_id, esc.latest_at = event["event_id"], _when(event["observed_at"])
    elif kind == "escalation_overdue":
        esc.overdue_at = _when(event["overdue_at"])
        for channel in event.get("handed_to", []):
            esc.deliveries.setdefault(channel, Delivery(channel))
    elif kind == "escalation_acknowledged":
        esc.acknowledged_by, esc.note = event["by"], event.get("note", "")
        esc.acknowledged_at = _when(event["ts"])


def due(
    escalations: Iterable[Escalation], now: datetime, *, every_pending: bool = False
) -> list[tuple[Escalation, Delivery]]:
    """Deliveries to attempt now: open escalations, pending channels whose backoff has passed
    (or every pending one, when a person asks for a delivery run)."""
    return [
        (esc, delivery)
        for esc in escalations
        if esc.acknowledged_by is None
        for delivery in esc.deliveries.values()
        if (at := delivery.next_attempt_at(esc.retry_bound)) is not None
        and (every_pending or at <= now)
    ]


def cause_of(event: dict[str, Any]) -> str:
    """What makes two observations the same cause: their class and the rules that matched, with
    the probe and detail each named (a missing pytest seen again, not another changed file)."""
    matched = [
        f"{step.get('rule')}[{step.get('probe') or ''}] {step.get('detail', '')}"
        for step in event.get("why", [])
        if step.get("matched")
    ]
    return "\n".join([event["classification"], *matched])


def group_of(escalations: Iterable[Escalation], cause: str) -> Escalation | None:
    """The unacknowledged escalation of this cause that a repeat is grouped into, if any."""
    found = [e for e in escalations if e.cause == cause and e.acknowledged_by is None]
    return found[-1] if found else None


def newly_overdue(escalations: Iterable[Escalation], now: datetime) -> list[Escalation]:
    """Open escalations past their deadline that the log has not yet called overdue. A deadline
    of 0s still gives the first attempt its chance: overdue means strictly after it."""
    return [e for e in escalations if e.open and e.overdue_at is None and now > e.deadline_at]


def handed_to(esc: Escalation) -> list[str]:
    """The fallback channels an overdue escalation goes to (those not already in it)."""
    return [c for c in esc.fallback if c not in esc.deliveries]


def next_due(escalations: Iterable[Escalation]) -> datetime | None:
    """When the next delivery attempt, or the next deadline to mark overdue, falls due."""
    times = [
        at
        for esc in escalations
        if esc.acknowledged_by is None
        for delivery in esc.deliveries.values()
        if (at := delivery.next_attempt_at(esc.retry_bound)) is not None
    ]
    times += [
        e.deadline_at + timedelta(seconds=1) for e in escalations if e.open and e.overdue_at is None
    ]
    return min(times, default=None)
