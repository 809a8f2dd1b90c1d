"""What a reviewer signs: the canonical payload of a signed review of the audit trail. Pure.

EU GMP Annex 11 §9 asks that the audit trail be regularly reviewed; 21 CFR Part 11 §11.50 that
a signature show its meaning. The payload binds the meaning `review` to the exact content the
report shows for one period (its `report_sha256`, see report/trail.py), to the log (its origin,
the size and root the reviewer saw) and to a written reason. It is RFC 8785 canonical JSON
under its own domain tag, signed in the SSHSIG format under its own namespace
`sealguard-review`: a decision's signature never counts as a review, nor a review's as a
decision, even by the same key.
"""

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
import rfc8785

from sealguard.decide.payload import LogView

DOMAIN = "sealguard-review/1"
NAMESPACE = "sealguard-review"
MEANING: Literal["review"] = "review"  # fixed: 21 CFR Part 11 §11.50(a)(3)


class Period(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The period reviewed, as UTC ISO 8601 times (`moment_text`)."""

    since: str
    until: str


class ReviewPayload(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    domain: str
    origin: str  # the log's origin: a review of one log means nothing in another
    review_id: str  # REV_…
    meaning: Literal["review"]
    reason: str
    reviewed_at: str  # UTC, when the payload was made
    period: Period
    report_sha256: str  # the report's content hash for the period (report/trail.py)
    log: LogView  # the latest checkpoint when the payload was made


class _Domain(msgspec.Struct):
    domain: str | None = None


PAYLOAD_FIELDS = tuple(ReviewPayload.__struct_fields__)


def moment_text(moment: datetime) -> str:
    """A moment as a period is written: UTC with `Z`, to the microsecond when it has any, so
    that reading it back gives the same moment (`parse_moment`)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_moment(text: str) -> datetime:
    """An ISO 8601 time, aware; one without an offset is UTC (as `log show --since` reads it).
    ValueError when it is not one."""
    moment = datetime.fromisoformat(text)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:  # a time whose UTC falls outside the calendar (0001-01-01T00:00+01:00) is not one
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text}: outside the calendar's range once in UTC") from None
    return moment


def encode(payload: ReviewPayload) -> bytes:
    """The exact bytes signed: canonical JSON (RFC 8785) with a final newline, as a file."""
    return rfc8785.dumps(msgspec.to_builtins(payload)) + b"\n"


def decode(data: bytes) -> ReviewPayload:
    """A payload read back (from `--payload`); ValueError when it is not a review payload in
    its canonical form."""
    try:  # the domain first: a decision's payload is named as one, not by its fields
        domain = msgspec.json.decode(data, type=_Domain).domain
        if domain != DOMAIN:
            raise ValueError(f'its domain is "{domain}", not "{DOMAIN}"')
        payload = msgspec.json.decode(data, type=ReviewPayload)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None
    if encode(payload) != data:
        raise ValueError("not in its canonical form (RFC 8785, one final newline)")
    return payload


def from_record(record: dict[str, Any]) -> ReviewPayload:
    """The payload a journaled review says was signed (its own fields)."""
    return msgspec.convert({name: record.get(name) for name in PAYLOAD_FIELDS}, ReviewPayload)


def to_record(payload: ReviewPayload) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(payload)
    return data
