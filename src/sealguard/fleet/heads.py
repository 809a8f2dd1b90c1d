"""The shape of a head (fleet/summary.py, `FORMAT` 1) as `fleet status` and `fleet report`
read it back from the database. Pure.

A head is derived data written by its host's own login role (or edited by a superuser): the
fleet's views never trust its shape. One that does not have it is that log's problem, named on
its row ("its head cannot be read (…)"), and the row is shown without a head; the other rows and
the command go on. Unknown keys are ignored (a newer host may add some).
"""

from typing import Annotated, Any

import msgspec

Text = str | None
Seconds = Annotated[float, msgspec.Meta(gt=0)]


class _Escalation(msgspec.Struct):
    escalation_id: str
    event_id: str
    classification: str
    created_at: Text = None
    deadline_at: Text = None
    overdue_at: Text = None
    count: int = 0
    channels: dict[str, str] = {}


class _Observation(msgspec.Struct):
    event_id: Text = None
    classification: Text = None
    observed_at: Text = None
    purpose: Text = None


class _Incident(msgspec.Struct):
    incident_id: str
    event_id: Text = None
    since: Text = None
    report: Text = None


class _Schedule(msgspec.Struct):
    every_seconds: Seconds
    grace_seconds: Annotated[float, msgspec.Meta(ge=0)] | None = None


class _Head(msgspec.Struct):
    state: str
    format: int = 1
    since: Text = None
    because: Text = None
    reason: Text = None
    next: Text = None
    baseline_version: int | None = None
    baseline_sha256: Text = None
    last_observation: _Observation | None = None
    escalations: list[_Escalation] = []
    incident: _Incident | None = None
    schedule: _Schedule | None = None


class _Drift(msgspec.Struct):
    event_id: str
    classification: str
    observed_at: Text = None
    purpose: Text = None
    rules: list[str] = []


class _IncidentHeld(msgspec.Struct):
    incident_id: str
    event_id: Text = None
    opened_at: Text = None
    closed_by: Text = None


class _Decision(msgspec.Struct):
    decision_id: str
    decision: str
    answers: Text = None
    incident: Text = None
    decided_at: Text = None
    signers: list[str] = []


class _History(msgspec.Struct):
    counts: dict[str, int] = {}
    drifts: list[_Drift] = []
    incidents: list[_IncidentHeld] = []
    decisions: list[_Decision] = []


def _problem(found: Any, shape: type) -> str | None:
    try:
        msgspec.convert(found, shape, strict=True)
    except msgspec.ValidationError as error:
        return str(error)
    return None


def head_problem(head: Any) -> str | None:
    """What is wrong with a head (without its history), or None: it has the head's shape."""
    return _problem(head, _Head)


def history_problem(history: Any) -> str | None:
    """What is wrong with a head's history, or None (no history at all is an empty one)."""
    return None if history is None else _problem(history, _History)
