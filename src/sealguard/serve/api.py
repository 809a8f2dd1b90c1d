"""The JSON API: what the log folds to, in the shapes `sealguard status --json` and
`sealguard escalations --json` print, plus the observations and one event. Described by the
OpenAPI document shipped beside it (openapi.json)."""

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from sealguard.events import iso_utc
from sealguard.ledger.canonical import DECODE_ERRORS, decode_line
from sealguard.report import lateness, narrative
from sealguard.serve.history import History, Seen
from sealguard.serve.reading import Reading, log_version, read

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class BadQuery(ValueError):
    """A query parameter the API cannot use: answered 400 with the sentence."""


def _stamp(moment: datetime | None) -> str | None:
    return iso_utc(moment.replace(tzinfo=UTC)) if moment else None


def _seconds_since(reading: Reading, moment: datetime | None) -> float | None:
    return round((reading.now - moment).total_seconds(), 3) if moment else None


def last_observed(history: History) -> datetime | None:
    """When the last observation started (naive UTC), or None before the first."""
    at = history.seen[-1].at if history.seen else None
    return at.astimezone(UTC).replace(tzinfo=None) if at else None


def status_json(reading: Reading) -> dict[str, Any]:
    last = last_observed(reading.history)
    return {
        **narrative.status_json(reading.state),
        "open_escalations": narrative.escalations_json(reading.open_escalations, reading.now),
        "observations": reading.history.by_class.total(),
        "last_observation_at": _stamp(last),
        "seconds_since_last_observation": _seconds_since(reading, last),
        "last_full_audit_at": _stamp(reading.full_audit_at),
        "schedule": lateness.schedule_json(reading.schedule) if reading.schedule else None,
        "log": {
            "version": reading.log_version,
            "lines": reading.history.lines,
            "problem": reading.problem,
        },
    }


def _moment(request: Request, name: str) -> datetime | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadQuery(f"{name}: not an ISO 8601 date-time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _limit(request: Request) -> int:
    text = request.query_params.get("limit", str(DEFAULT_LIMIT))
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise BadQuery(f"limit: a whole number from 1 to {MAX_LIMIT}, not {text!r}")
    return int(text)


def _within(seen: Seen, since: datetime | None, until: datetime | None) -> bool:
    if since is None and until is None:
        return True
    if seen.at is None:
        return False
    return (since is None or seen.at >= since) and (until is None or seen.at < until)


def observations_json(history: History, request: Request) -> dict[str, Any]:
    """The observations in [since, until), newest first, at most `limit` of them."""
    since, until, limit = _moment(request, "since"), _moment(request, "until"), _limit(request)
    chosen = [s for s in history.seen if _within(s, since, until)]
    return {
        "total": len(chosen),
        "observations": [s.summary() for s in reversed(chosen[-limit:])],
    }


def escalations_json(reading: Reading, request: Request) -> dict[str, Any]:
    which = request.query_params.get("state", "all")
    if which not in ("all", "open"):
        raise BadQuery(f"state: all or open, not {which!r}")
    chosen = reading.open_escalations if which == "open" else reading.escalations
    rows = narrative.escalations_json(chosen, reading.now)
    return {"escalations": [{**row, "open": e.open} for row, e in zip(rows, chosen, strict=True)]}


def event_json(reading: Reading, event_id: str) -> dict[str, Any] | None:
    """An observation's RUNTIME_EVENT as the log holds it, and the decisions that answered it;
    None when the log holds no such observation."""
    seen = reading.history.by_id.get(event_id)
    if seen is None:
        return None
    try:
        record = decode_line(reading.history.line(seen))
    except (*DECODE_ERRORS, OSError):
        return None
    if not isinstance(record, dict) or record.get("event_id") != event_id:
        return None  # the log is not the one indexed (`sealguard log verify` says why)
    decisions = [
        e
        for e in reading.events
        if e.get("type") == "decision" and (e.get("answers") or {}).get("id") == event_id
    ]
    return {"event": record, "decisions": decisions}


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _reading(request: Request) -> Reading:
    return read(request.app.state.project, request.app.state.history)


def status(request: Request) -> JSONResponse:
    return JSONResponse(status_json(_reading(request)))


def observations(request: Request) -> JSONResponse:
    try:
        return JSONResponse(observations_json(request.app.state.history.refresh(), request))
    except BadQuery as exc:
        return _error(str(exc), 400)


def escalations(request: Request) -> JSONResponse:
    try:
        return JSONResponse(escalations_json(_reading(request), request))
    except BadQuery as exc:
        return _error(str(exc), 400)


def event(request: Request) -> JSONResponse:
    event_id = str(request.path_params["event_id"])
    found = event_json(_reading(request), event_id)
    if found is None:
        return _error(f"no observation {event_id} in the governance log", 404)
    return JSONResponse(found)


def log(request: Request) -> JSONResponse:
    """What the live page polls: the log's version, one stat, no read."""
    return JSONResponse({"version": log_version(request.app.state.project)})
