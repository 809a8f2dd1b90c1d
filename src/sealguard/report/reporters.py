"""One reporter interface for everything a command shows, in two formats: text for people and
JSON for scripts (the `--json` flag). A command asks `reporter(as_json)` once and never
branches on the format itself (pip-audit's `_format/` is the model).

Both return the text to print; `output.write` prints either safely (JSON text holds no
character a terminal acts on: see `output.json_text`).

`narrative` is imported where it is used: it pulls in the observation, escalation and incident
modules, which `verify` and `log verify` never need (a tenth of a second at every start).
"""

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sealguard.events import to_data
from sealguard.output import json_text
from sealguard.report import lateness, render

if TYPE_CHECKING:
    from sealguard.escalation.outbox import Escalation
    from sealguard.ledger.auditor import LogReport
    from sealguard.observe.observation import Observation
    from sealguard.observe.status import Status
    from sealguard.seal.verify import VerifyReport


class Reporter(Protocol):
    def observation(self, observation: "Observation") -> str: ...

    def status(self, found: "Status", now: datetime) -> str: ...

    def event(self, record: dict[str, Any], decisions: list[dict[str, Any]]) -> str: ...

    def verify(self, report: "VerifyReport", seconds: float) -> str: ...

    def log(self, report: "LogReport") -> str: ...

    def events(self, events: list[dict[str, Any]]) -> str: ...

    def escalations(self, found: "list[Escalation]", now: datetime) -> str: ...


class TextReporter:
    """What people read: summaries, one line per item, decisions with name, time, meaning."""

    def observation(self, observation: "Observation") -> str:
        from sealguard.report import narrative

        lines = [narrative.observation_text(observation.event)]
        if observation.escalation_id:
            lines.append(f"escalated as {observation.escalation_id}")
        if observation.attempts:
            lines.append(narrative.attempts_text(list(observation.attempts)))
        return "\n".join(lines)

    def status(self, found: "Status", now: datetime) -> str:
        from sealguard.report import narrative

        text = narrative.status_text(found.state)
        if found.schedule is not None:
            text += "\n" + lateness.schedule_text(found.schedule)
        if found.open_escalations:
            rows = narrative.escalation_rows(found.open_escalations, now)
            text += "\nopen escalations:\n" + "\n".join(rows)
        return text

    def event(self, record: dict[str, Any], decisions: list[dict[str, Any]]) -> str:
        from sealguard.events import from_data
        from sealguard.report import narrative

        lines = [narrative.observation_text(from_data(record))]
        lines += [f"decision: {render.decision_line(d)}" for d in decisions]
        return "\n".join(lines)

    def verify(self, report: "VerifyReport", seconds: float) -> str:
        return render.verify_text(report, seconds)

    def log(self, report: "LogReport") -> str:
        return render.log_text(report)

    def events(self, events: list[dict[str, Any]]) -> str:
        return "\n".join(render.event_line(e) for e in events)

    def escalations(self, found: "list[Escalation]", now: datetime) -> str:
        from sealguard.report import narrative

        return "\n".join(narrative.escalation_rows(found, now)) or "no escalation"


class JsonReporter:
    """What scripts read: the documented JSON of each result (the event, the state, …)."""

    def observation(self, observation: "Observation") -> str:
        return json_text(to_data(observation.event))

    def status(self, found: "Status", now: datetime) -> str:
        from sealguard.report import narrative

        return json_text(
            {
                **narrative.status_json(found.state),
                "open_escalations": narrative.escalations_json(found.open_escalations, now),
                "schedule": lateness.schedule_json(found.schedule) if found.schedule else None,
            }
        )

    def event(self, record: dict[str, Any], decisions: list[dict[str, Any]]) -> str:
        return json_text(record)

    def verify(self, report: "VerifyReport", seconds: float) -> str:
        return json_text(render.verify_json(report, seconds))

    def log(self, report: "LogReport") -> str:
        return json_text(render.log_json(report))

    def events(self, events: list[dict[str, Any]]) -> str:
        return json_text(events)

    def escalations(self, found: "list[Escalation]", now: datetime) -> str:
        from sealguard.report import narrative

        return json_text(narrative.escalations_json(found, now))


def reporter(as_json: bool) -> Reporter:
    return JsonReporter() if as_json else TextReporter()
