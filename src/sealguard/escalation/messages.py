"""Rendering a packet for each channel, from the jinja2 templates in sealguard/templates. Pure."""

from typing import Any

import jinja2
import msgspec

from sealguard.classes import lookup
from sealguard.escalation.packet import Packet

SUMMARY_MAX = 1024  # PagerDuty's limit on payload.summary


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("sealguard", "templates"),
    autoescape=False,  # plain text and Slack mrkdwn, never HTML
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_templates.filters["slack"] = _slack_escape


def _render(name: str, packet: Packet) -> str:
    return _templates.get_template(name).render(p=packet)


def email(packet: Packet) -> tuple[str, str]:
    """(subject, body)."""
    return _render("email_subject.j2", packet).strip(), _render("email_body.j2", packet)


def slack(packet: Packet) -> dict[str, Any]:
    safe = msgspec.structs.replace(
        packet, diff=_slack_escape(packet.diff), why=[_slack_escape(w) for w in packet.why]
    )
    return {"text": _render("slack.j2", safe).strip()}


def _pagerduty_severity(packet: Packet) -> str:
    known = lookup(packet.classification)
    return "info" if packet.test else known.pagerduty if known else "error"


def pagerduty(packet: Packet, routing_key: str, source: str) -> dict[str, Any]:
    """An Events API v2 trigger; the dedup key is the event id, so a retry never pages twice."""
    summary = _render("pagerduty_summary.j2", packet).strip()
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": packet.event_id,
        "payload": {
            "summary": summary[:SUMMARY_MAX],
            "source": source,
            "severity": _pagerduty_severity(packet),
            "timestamp": packet.observed_at,
            "component": packet.project,
            "group": "sealguard",
            "class": packet.classification,
            "custom_details": {
                "escalation_id": packet.escalation_id,
                "snapshot_id": packet.snapshot_id,
                "commit": packet.commit,
                "deadline_at": packet.deadline_at,
                "why": packet.why,
                "next": packet.next,
                "log": packet.log_link,
                "diff": packet.diff,
            },
        },
    }


def webhook(packet: Packet) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(packet)
    return data
