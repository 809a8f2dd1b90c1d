"""Escalating: record a notice in the outbox, deliver what is due, mark what is overdue.

An escalation (ESC_…) is written to governance/runtime/outbox/ and journaled before any
delivery attempt. Each attempt is journaled after it, with its outcome. A crash between the two
loses nothing: the next `observe`, `watch` or `escalations deliver` sends what is due, and the
dedup keys (PagerDuty's dedup_key is the event id; email carries a Message-ID; webhooks an
Idempotency-Key) keep a resend from paging twice. One delivery run at a time (a lock on the
outbox folder).
"""

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from sealguard import ledger, runtime
from sealguard.config import Config
from sealguard.durations import parse_duration
from sealguard.errors import UsageError
from sealguard.escalation import channels, outbox, packet
from sealguard.events import iso_utc, new_id
from sealguard.ledger.journal import notable_events
from sealguard.project import Project

OUTBOX = "outbox"


def _probe_diffs(project: Project, event: dict[str, Any]) -> dict[str, str]:
    snapshot = event.get("snapshot")
    diffs = {}
    for probe in event.get("probes", []):
        kept = project.root / snapshot["path"] / probe["name"] / "diff.txt" if snapshot else None
        diffs[probe["name"]] = kept.read_text(encoding="utf-8") if kept and kept.exists() else ""
    return diffs


def log_link(project: Project, config: Config) -> str:
    return config.escalation.log_link or str(project.log_file)


def _not_configured(config: Config, names: list[str]) -> dict[str, Any]:
    return {
        "channels": names,
        "reason": "not configured: "
        + ", ".join(f"[channels.{n}]" for n in names)
        + " (add it to governance/sealguard.toml, or change the [escalation] row)",
    }


def create(project: Project, config: Config, event: dict[str, Any], now: datetime) -> str | None:
    """Record the escalation an observation's class calls for; returns its id (None for STABLE).
    A repeat of the cause of an unacknowledged escalation is grouped into it (its id)."""
    row = config.escalation.row(event["classification"])
    if row is None:
        return None
    cause = outbox.cause_of(event)
    ledger_ = project.ledger(config)
    if (group := outbox.group_of(escalations(project, config).values(), cause)) is not None:
        grouped = {
            "escalation_id": group.escalation_id,
            "event_id": event["event_id"],
            "observed_at": event["observed_at"],
            "count": group.count + 1,
        }
        ledger.append(ledger_, "escalation_grouped", grouped)
        return group.escalation_id
    esc_id = new_id("ESC", now)
    deadline_at = now + timedelta(seconds=parse_duration(row.deadline))
    full = packet.full_diff(event, _probe_diffs(project, event))
    notice = packet.build(
        esc_id,
        event,
        full,
        deadline=row.deadline,
        deadline_at=iso_utc(deadline_at),
        created_at=iso_utc(now),
        log_link=log_link(project, config),
        project=project.root.name,
    )
    file = ledger_.folder / OUTBOX / f"{esc_id}.json"
    content = {"packet": msgspec.to_builtins(notice), "full_diff": full}
    written = runtime.write_files(
        ledger_, {file: json.dumps(content, indent=1, sort_keys=True).encode()}
    )
    created = {
        "escalation_id": esc_id,
        "event_id": event["event_id"],
        "classification": event["classification"],
        "channels": row.channels,
        "fallback": row.fallback,
        "deadline": row.deadline,
        "deadline_at": iso_utc(deadline_at),
        "created_at": iso_utc(now),
        "file": project.display(file),
        "cause": cause,
    }
    records = [*written, ("escalation_created", created)]
    configured = set(config.channels.configured())
    if missing := [c for c in row.channels if c not in configured]:
        records.append(
            (
                "escalation_undeliverable",
                {"escalation_id": esc_id} | _not_configured(config, missing),
            )
        )
    ledger.append_many(ledger_, records)
    return esc_id


@contextmanager
def _delivery_lock(folder: Path) -> Iterator[None]:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _naive(moment: datetime) -> datetime:
    """Naive UTC, to the second, as times are journaled."""
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)


def _load(project: Project, esc: outbox.Escalation) -> tuple[packet.Packet, str]:
    data = json.loads((project.root / esc.file).read_text(encoding="utf-8"))
    return msgspec.convert(data["packet"], packet.Packet), data["full_diff"]


def escalations(project: Project, config: Config) -> dict[str, outbox.Escalation]:
    ledger_ = project.ledger(config)
    return outbox.fold(notable_events(ledger_)) if ledger_.log.exists() else {}


def _mark_overdue(project: Project, config: Config, now: datetime) -> None:
    for esc in outbox.newly_overdue(escalations(project, config).values(), _naive(now)):
        undelivered = [c for c, d in esc.deliveries.items() if d.state != "delivered"]
        ledger.append(
            project.ledger(config),
            "escalation_overdue",
            {
                "escalation_id": esc.escalation_id,
                "overdue_at": iso_utc(now),
                "undelivered": undelivered,
                "handed_to": outbox.handed_to(esc),
            },
        )


def _undeliverable(
    project: Project, config: Config, due: list[tuple[outbox.Escalation, outbox.Delivery]]
) -> list[tuple[outbox.Escalation, outbox.Delivery]]:
    """Journal once, per escalation, the due channels that are not configured (a fallback, or
    a config changed since); returns the deliveries left to attempt."""
    configured = set(config.channels.configured())
    missing: dict[str, list[str]] = {}
    for esc, delivery in due:
        if delivery.channel not in configured:
            missing.setdefault(esc.escalation_id, []).append(delivery.channel)
    for esc_id, names in missing.items():
        fields = {"escalation_id": esc_id} | _not_configured(config, names)
        ledger.append(project.ledger(config), "escalation_undeliverable", fields)
    return [(e, d) for e, d in due if d.channel in configured]


def deliver_due(
    project: Project,
    config: Config,
    now: datetime,
    env: Mapping[str, str] | None = None,
    *,
    every_pending: bool = False,
) -> list[outbox.AttemptRecord]:
    """Mark what is overdue, then attempt every delivery that is due (every pending one, when
    a person runs the delivery); returns the attempts."""
    folder = project.ledger(config).folder / OUTBOX
    if not folder.is_dir():
        return []
    attempts: list[outbox.AttemptRecord] = []
    with _delivery_lock(folder), ledger.one_checkpoint(project.ledger(config)):
        _mark_overdue(project, config, now)
        found = escalations(project, config).values()
        due = outbox.due(found, _naive(now), every_pending=every_pending)
        for esc, delivery in _undeliverable(project, config, due):
            notice, full = _load(project, esc)
            result = channels.send(
                delivery.channel, config.channels, notice, full, env or os.environ
            )
            attempt: outbox.AttemptRecord = {
                "escalation_id": esc.escalation_id,
                "channel": delivery.channel,
                "attempt": delivery.attempts + 1,
                "outcome": result.outcome,
                "detail": result.detail,
                "attempted_at": iso_utc(now),
            }
            ledger.append(project.ledger(config), "escalation_attempt", attempt)
            attempts.append(attempt)
    return attempts


def acknowledge(project: Project, config: Config, esc_id: str, by: str, note: str) -> ledger.Event:
    found = escalations(project, config).get(esc_id)
    if found is None:
        raise UsageError(
            f"no escalation {esc_id} in the governance log (see `sealguard escalations`)"
        )
    if found.acknowledged_by is not None:
        raise UsageError(f"{esc_id} was already acknowledged by {found.acknowledged_by}")
    if not by.strip():
        raise UsageError("--by needs the name of the person acknowledging")
    fields = {"escalation_id": esc_id, "by": by.strip(), "note": note}
    return ledger.append(project.ledger(config), "escalation_acknowledged", fields)


def escalate_unjournaled(
    project: Project, config: Config, reason: str, now: datetime
) -> list[tuple[str, channels.Attempt]]:
    """The log refuses appends (an invariant of the ledger is violated), so an INCIDENT cannot
    wait in the outbox: send it now, once, through the INCIDENT row's channels and fallback.
    Nothing is kept, as nothing here can be trusted to keep it; the caller says what was sent."""
    row = config.escalation.INCIDENT
    event = {
        "event_id": new_id("RTE", now),
        "classification": "INCIDENT",
        "severity": "critical",
        "observed_at": iso_utc(now),
        "commit": None,
        "snapshot": None,
        "next": "the governance log refuses appends: run `sealguard verify` and `log verify`",
        "why": [{"rule": "INC-LOG", "detail": f"not journaled: {reason}", "matched": True}],
    }
    notice = packet.build(
        new_id("ESC", now),
        event,
        f"(not journaled: {reason})\n",
        deadline=row.deadline,
        deadline_at=iso_utc(now + timedelta(seconds=parse_duration(row.deadline))),
        created_at=iso_utc(now),
        log_link=log_link(project, config),
        project=project.root.name,
    )
    names = list(dict.fromkeys([*row.channels, *row.fallback]))
    attach = reason + "\n"
    return [(n, channels.send(n, config.channels, notice, attach, os.environ)) for n in names]


def test_channel(project: Project, config: Config, channel: str, now: datetime) -> channels.Attempt:
    """Send a clearly marked test notice through one channel, and journal what happened."""
    event = {
        "event_id": new_id("RTE", now),
        "classification": "TOOLING_DRIFT",
        "severity": "minor",
        "observed_at": iso_utc(now),
        "commit": None,
        "snapshot": None,
        "next": "nothing: this is a test",
        "why": [{"rule": "TEST", "detail": "a test of the escalation channel", "matched": True}],
    }
    notice = packet.build(
        new_id("ESC", now),
        event,
        "(a test message carries no diff)\n",
        deadline="0s",
        deadline_at=iso_utc(now),
        created_at=iso_utc(now),
        log_link=log_link(project, config),
        project=project.root.name,
        test=True,
    )
    result = channels.send(channel, config.channels, notice, "(test)\n", os.environ)
    fields = {"channel": channel, "outcome": result.outcome, "detail": result.detail}
    ledger.append(project.ledger(config), "escalation_test", fields)
    return result
