"""Which periods of the audit trail were reviewed, by whom, and which were not. Pure.

Folded from the journaled `audit_review` events, in log order, for the report (and anyone who
shows reviews): each review with its period, the report content hash its signers signed, its
reason and every signer's printed name, id, role, time and meaning (21 CFR Part 11 §11.50(b)).
Whether a review line is genuine is `sealguard verify`'s to say (decide/review_audit.py); a
line that does not even read as a review is left out here.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from sealguard.decide.review_payload import MEANING, from_record, parse_moment

REVIEW_EVENT = "audit_review"


@dataclass(frozen=True)
class Period:
    """A stretch of time, from `since` (included) to `until` (excluded); aware datetimes."""

    since: datetime
    until: datetime


@dataclass(frozen=True)
class ReviewSigner:
    id: str
    name: str  # the printed name
    role: str  # operator or architect
    key: str  # the key's SHA256 fingerprint
    signed_at: str  # UTC: when the payload they signed was made (its reviewed_at)
    meaning: str  # always "review"


@dataclass(frozen=True)
class Review:
    review_id: str  # REV_…
    seq: int  # its line in the log
    recorded_at: str  # the line's ts: when the signatures were checked and journaled
    period: Period
    report_sha256: str
    reason: str
    reviewed_at: str  # UTC: when the payload signed was made
    signers: tuple[ReviewSigner, ...]


def _signer(signer: Any, signed_at: str) -> ReviewSigner:
    fields = signer if isinstance(signer, dict) else {}
    return ReviewSigner(
        id=str(fields.get("id")),
        name=str(fields.get("name")),
        role=str(fields.get("role")),
        key=str(fields.get("key")),
        signed_at=signed_at,
        meaning=MEANING,
    )


def _review(event: dict[str, Any]) -> Review | None:
    try:
        payload = from_record(event)
        period = Period(parse_moment(payload.period.since), parse_moment(payload.period.until))
    except (msgspec.ValidationError, TypeError, ValueError):
        return None
    signers = event.get("signers")
    return Review(
        review_id=payload.review_id,
        seq=int(event.get("seq", -1)),
        recorded_at=str(event.get("ts")),
        period=period,
        report_sha256=payload.report_sha256,
        reason=payload.reason,
        reviewed_at=payload.reviewed_at,
        signers=tuple(
            _signer(s, payload.reviewed_at) for s in (signers if isinstance(signers, list) else [])
        ),
    )


def fold_reviews(events: Iterable[dict[str, Any]]) -> list[Review]:
    """Every journaled review, in log order."""
    found = (_review(e) for e in events if e.get("type") == REVIEW_EVENT)
    return [review for review in found if review is not None]


def unreviewed(reviews: Iterable[Review], period: Period) -> list[Period]:
    """The parts of `period` that no review covers, in order (empty when all of it is)."""
    gaps: list[Period] = []
    at = period.since
    for review in sorted(reviews, key=lambda r: r.period.since):
        if review.period.since >= period.until:
            break
        if review.period.since > at:
            gaps.append(Period(at, review.period.since))
        at = max(at, review.period.until)
    if at < period.until:
        gaps.append(Period(at, period.until))
    return gaps
