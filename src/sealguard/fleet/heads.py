"""The shape of a head (fleet/summary.py, `FORMAT` 1) as `fleet status` and `fleet report`
read it back from the database. Pure.

A head is derived data written by its host's own login role (or edited by a superuser): the
fleet's views never trust it. It is read as text and decoded here, never by the database
driver (a head nested thousands deep or holding a 5,000-digit number made it fail for the whole
fleet), bounded in size, and checked against its shape, its values bounded (a schedule longer
than MAX_SECONDS overflowed the date arithmetic). One that fails is that log's problem, named on
its row ("its head cannot be read (…)"), and the row is shown without a head; the other rows and
the command go on. Unknown keys are dropped: what the views read is what was checked.
"""

from typing import Annotated, Any, Literal

import msgspec

from sealguard.classes import Mode

MAX_BYTES = 1 << 20  # a head (or its history) read; summary.py keeps the newest KEPT of each list
MAX_SECONDS = 10 * 366 * 86400.0  # a schedule's period or grace: ten years at most
Text = str | None
Seconds = Annotated[float, msgspec.Meta(gt=0, le=MAX_SECONDS)]


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
    grace_seconds: Annotated[float, msgspec.Meta(ge=0, le=MAX_SECONDS)] | None = None


class _Head(msgspec.Struct):
    state: Mode
    format: Literal[1] = 1
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


def _decoded(text: str | None, shape: type) -> tuple[dict[str, Any] | None, str | None]:
    """(what was checked, as plain data; None) or (None, what is wrong)."""
    if text is None:
        return None, None
    if len(text) > MAX_BYTES:
        return None, f"{len(text):,} characters, more than the {MAX_BYTES:,} read"
    try:
        found: Any = msgspec.json.decode(text, type=shape, strict=True)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        return None, str(error)
    except RecursionError:
        return None, "nested too deep"
    return msgspec.to_builtins(found), None


def head(text: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """A head as the database holds it (JSON text, without its history; None: none reported):
    (the head, None) or (None, what is wrong with it)."""
    return _decoded(text, _Head)


def history(text: str | None) -> tuple[dict[str, Any], str | None]:
    """A head's history (JSON text; None: none): (it, None) or ({}, what is wrong with it)."""
    found, problem = _decoded(text, _History)
    return found or {}, problem
