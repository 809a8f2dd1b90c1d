"""Where the schedule stands (schedule.Due), in the words and the JSON `status` shows."""

from datetime import UTC, datetime
from typing import Any

from sealguard.durations import duration_text
from sealguard.events import iso_utc
from sealguard.schedule import Due


def _at(moment: datetime | None) -> str | None:
    return iso_utc(moment.replace(tzinfo=UTC)) if moment else None


def schedule_json(due: Due) -> dict[str, Any]:
    return {
        "every_seconds": int(due.every_seconds),
        "grace_seconds": int(due.grace_seconds),
        "last_observation": _at(due.last),
        "next_due": _at(due.next_due),
        "late_by_seconds": int(due.late_by_seconds),
        "late": due.late,
        "overdue": due.overdue,
    }


def schedule_text(due: Due) -> str:
    every = f"every {duration_text(due.every_seconds)}, grace {duration_text(due.grace_seconds)}"
    if due.next_due is None:
        return f"schedule: {every}; nothing sealed yet"
    late = duration_text(due.late_by_seconds)
    if due.overdue:
        how = f"OVERDUE by {late}: observations stopped (`sealguard heartbeat` escalates it)"
    else:
        how = f"late by {late}" if due.late else "on time"
    return (
        f"schedule: {every}; last observation {_at(due.last)}; next due {_at(due.next_due)}: {how}"
    )
