"""The escalation packet: everything the runbook says a notice must carry. Pure.

event_id, snapshot_id, commit/tag, classification, the UTC timestamp, a link to the governance
log, the diff with the baseline (inline, bounded; in full as an email attachment), the
deadline, and what the runbook expects next.
"""

from typing import Any

import msgspec

INLINE_DIFF_LINES = 40
INLINE_DIFF_BYTES = 4000


class Packet(msgspec.Struct, frozen=True, kw_only=True):
    """The body of the generic webhook, and what every channel renders from."""

    escalation_id: str
    event_id: str
    snapshot_id: str | None
    commit: str | None
    classification: str
    severity: str
    observed_at: str  # UTC, ISO 8601
    created_at: str
    deadline: str  # as the matrix says it, e.g. "15m"
    deadline_at: str
    log_link: str
    why: list[str]
    diff: str  # inline, bounded
    diff_truncated: bool
    next: str
    project: str
    test: bool = False


def inline_diff(full: str) -> tuple[str, bool]:
    """At most INLINE_DIFF_LINES lines and INLINE_DIFF_BYTES bytes of the full diff."""
    lines = full.splitlines()
    kept = "\n".join(lines[:INLINE_DIFF_LINES])
    truncated = len(lines) > INLINE_DIFF_LINES or len(kept.encode()) > INLINE_DIFF_BYTES
    if len(kept.encode()) > INLINE_DIFF_BYTES:
        kept = kept.encode()[:INLINE_DIFF_BYTES].decode("utf-8", "ignore")
    return kept, truncated


def full_diff(event: dict[str, Any], probe_diffs: dict[str, str]) -> str:
    """The diff with the baseline: invariant violations, then each probe's kept diff."""
    parts = []
    violations = event.get("invariants_before", []) + event.get("invariants_after", [])
    if violations:
        parts.append("# invariants violated")
        parts += [f"{v['invariant']} {v['change']} {v['path']}: {v['detail']}" for v in violations]
    for name, text in probe_diffs.items():
        parts.append(text.rstrip() if text else f"# probe {name}: no diff kept")
    return "\n".join(parts) + "\n" if parts else "(no difference recorded)\n"


def build(
    escalation_id: str,
    event: dict[str, Any],
    full: str,
    *,
    deadline: str,
    deadline_at: str,
    created_at: str,
    log_link: str,
    project: str,
    test: bool = False,
) -> Packet:
    diff, truncated = inline_diff(full)
    why = [
        f"{s['rule']}{' [' + s['probe'] + ']' if s.get('probe') else ''}: {s['detail']}"
        for s in event.get("why", [])
        if s.get("matched")
    ]
    snapshot = event.get("snapshot") or {}
    return Packet(
        escalation_id=escalation_id,
        event_id=event["event_id"],
        snapshot_id=snapshot.get("snapshot_id"),
        commit=event.get("commit"),
        classification=event["classification"],
        severity=event["severity"],
        observed_at=event["observed_at"],
        created_at=created_at,
        deadline=deadline,
        deadline_at=deadline_at,
        log_link=log_link,
        why=why,
        diff=diff,
        diff_truncated=truncated,
        next=event["next"],
        project=project,
        test=test,
    )


def webhook_schema() -> dict[str, Any]:
    schema: dict[str, Any] = msgspec.json.schema(Packet)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sealguard escalation (webhook body)"
    return schema
