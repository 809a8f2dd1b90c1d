"""The types of event sealguard writes to the governance log, each with what it records. Pure.

`log show --type` is held to this table (tests/test_event_types.py keeps it complete: every
type the source hands to the log must be here)."""

from collections.abc import Iterable, Mapping
from typing import Any

from sealguard.errors import UsageError

EVENT_TYPES: dict[str, str] = {
    "witness_configured": "the log names its witness (before the seal, when there is one)",
    "baseline_sealed": "`seal`: the baseline's SHA-256 and the log's public key",
    "runtime_writing": "files about to be written in governance/runtime/",
    "runtime_file": "a file written in governance/runtime/, with its SHA-256",
    "runtime_leftovers": "files a crashed write left in governance/runtime/",
    "runtime_event": "an observation's RUNTIME_EVENT: its class and why",
    "observation_refused": "an observation refused while observation is frozen or halted",
    "certification_refused": "a `certify` run refused in the state observation is in",
    "escalation_created": "an escalation: its class, channels and deadline",
    "escalation_attempt": "one delivery attempt through a channel, and its outcome",
    "escalation_overdue": "an escalation past its deadline, handed to its fallback",
    "escalation_acknowledged": "an escalation acknowledged (`ack`, or closed by a decision)",
    "escalation_test": "`escalations test`: a marked test message through one channel",
    "escalation_grouped": "the same class and cause seen again while its escalation is open",
    "escalation_undeliverable": "a channel of the escalation's row that is not configured",
    "proposal_made": "`propose`: a proposal for the next baseline version",
    "decision": "a signed Architect decision",
    "decision_refused": "a decision refused (unsigned, wrong role, replayed, …)",
    "baseline_installed": "a baseline version put in force by a decision",
    "audit_review": "`review`: a signed review of the audit trail for a period, bound to the "
    "report's content hash for it",
    "review_refused": "a review refused (no reason, a bad period, unsigned, replayed, stale, …)",
    "incident_opened": "an INCIDENT opened an incident report",
    "heartbeat_silence": "`heartbeat`: no observation arrived by its due time and grace; escalated",
    "heartbeat_resumed": "`heartbeat`: observations arrive again; the silence's escalation closed",
    "torn_tail": "a write cut short, accounted for by the next append",
}


def check_type(event_type: str | None, events: Iterable[Mapping[str, Any]]) -> None:
    """Refuse a type that sealguard does not write and the log does not hold (a typo would
    otherwise select nothing, silently). A log from another version may hold other types."""
    if event_type is None or event_type in EVENT_TYPES:
        return
    if any(event.get("type") == event_type for event in events):
        return
    raise UsageError(
        f"--type {event_type!r}: no such event type; the types are: {', '.join(EVENT_TYPES)}"
    )
