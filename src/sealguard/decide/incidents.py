"""Incidents: opened by an INCIDENT, closed only by people.

On INCIDENT the observation opens `INC_…` and writes governance/incidents/INC_…/INCIDENT_REPORT.md
from the shipped template, prefilled with the facts (the event, its snapshot and export, the
violated invariants, the rule path, a timeline from the log, the escalation record, the diff);
people write the rest (impact, root cause with evidence, corrective and preventive actions).
Closing is a signed `close-incident` decision (decisions.py) that needs every section written,
a decision (re-seal or rollback) and a STABLE certification since; its payload binds the
report's final hash, and `verify` checks that the report still has it (INV-D-06).
"""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sealguard import ledger
from sealguard.decide.incident_report import IncidentFacts, missing_sections, render
from sealguard.escalation import outbox
from sealguard.events import iso_utc, new_id
from sealguard.fsio import sha256_of, write_atomic
from sealguard.project import Project
from sealguard.state import RUNTIME_EVENT

OPENED = "incident_opened"
REPORT_NAME = "INCIDENT_REPORT.md"
DIFF_LIMIT = 20_000  # characters of diff copied into the report; the snapshot keeps it all
__all__ = ["OPENED", "Incident", "incidents", "missing_sections", "open_incident"]


def _said(event: dict[str, Any]) -> str | None:
    """One line for the events a timeline shows; None for the bookkeeping ones."""
    kind = event.get("type")
    if kind == RUNTIME_EVENT:
        return f"observation {event.get('event_id')}: {event.get('classification')}"
    if kind in ("baseline_sealed", "baseline_installed"):
        return f"baseline v{event.get('version', 1)} in force"
    if kind == "decision":
        return f"decision {event.get('decision_id')}: {event.get('decision')}"
    if kind == "observation_refused":
        return f"observation refused ({event.get('state')})"
    if kind == "escalation_created":
        return f"escalation {event.get('escalation_id')} created"
    return None


def _timeline(events: list[dict[str, Any]], limit: int = 30) -> list[tuple[str, str]]:
    said = [(str(e.get("ts")), line) for e in events if (line := _said(e))]
    return said[-limit:]


def _escalations(events: list[dict[str, Any]], event_id: str) -> list[str]:
    return [
        f"{esc.escalation_id}: {esc.classification}, deadline {iso_utc(esc.deadline_at)}, "
        f"channels {', '.join(esc.deliveries) or 'none'}"
        for esc in outbox.fold(events).values()
        if esc.event_id == event_id
    ]


def _diff(project: Project, event: dict[str, Any]) -> str:
    snapshot = event.get("snapshot") or {}
    texts = []
    for rel in sorted(snapshot.get("files") or {}):
        if rel.endswith("diff.txt"):
            path = project.root / str(snapshot.get("path")) / rel
            try:
                texts.append(path.read_text("utf-8", "replace"))
            except OSError:
                texts.append(f"({rel}: cannot be read)")
    text = "\n".join(t for t in texts if t.strip())
    return text[:DIFF_LIMIT] + (
        "\n… (cut; the snapshot keeps it all)" if len(text) > DIFF_LIMIT else ""
    )


def open_incident(
    project: Project, ledger_: ledger.Ledger, event: dict[str, Any], version: int, now: datetime
) -> dict[str, Any]:
    """Open an incident for the INCIDENT `event` (as journaled): write its report, journal it."""
    incident_id = new_id("INC", now)
    events = ledger.read_events(ledger_.log)
    facts = IncidentFacts(
        incident_id=incident_id,
        opened_at=iso_utc(now),
        event=event,
        timeline=_timeline(events),
        escalations=_escalations(events, str(event["event_id"])),
        diff=_diff(project, event),
        baseline_version=version,
    )
    report = project.incident_folder(incident_id) / REPORT_NAME
    report.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(report, render(facts).encode())
    return ledger.append(
        ledger_,
        OPENED,
        {
            "incident_id": incident_id,
            "event_id": event["event_id"],
            "report": project.display(report),
            "report_sha256": sha256_of(report),
        },
    )


@dataclass(frozen=True)
class Incident:
    incident_id: str
    event_id: str
    opened_at: str
    report: str
    closed_by: dict[str, Any] | None  # the close-incident decision
    decisions: tuple[dict[str, Any], ...]  # every decision that belongs to it

    @property
    def status(self) -> str:
        return "closed" if self.closed_by else "open"

    def missing(self, root: Path) -> list[str]:
        try:
            return missing_sections((root / self.report).read_text("utf-8"))
        except OSError:
            return ["(the report cannot be read)"]


def incidents(events: list[dict[str, Any]]) -> list[Incident]:
    found: dict[str, dict[str, Any]] = {}
    decisions: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event.get("type") == OPENED:
            found[str(event["incident_id"])] = event
        elif event.get("type") == "decision" and event.get("incident"):
            decisions.setdefault(str(event["incident"]), []).append(event)
    result = []
    for incident_id, opened in found.items():
        mine = tuple(decisions.get(incident_id, []))
        closed = next((d for d in mine if d.get("decision") == "close-incident"), None)
        result.append(
            Incident(
                incident_id,
                str(opened["event_id"]),
                str(opened["ts"]),
                str(opened["report"]),
                closed,
                mine,
            )
        )
    return result
