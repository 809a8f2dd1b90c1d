"""What an Architect signs: a decision's canonical payload, and the record the log keeps. Pure.

The payload binds the meaning of a human act to the exact evidence it answers (21 CFR Part 11
§11.50, §11.70): the decision and its written reason, the meaning of the signature, the record
it answers with that record's leaf hash in the log, the log size and root the signer saw, and
the baseline version it results in. It is RFC 8785 canonical JSON under a domain tag, signed in
the SSHSIG format under the namespace `sealguard-decision`, so a signature can be moved neither
to another record nor to another use of the same key (git commits, other tools).
"""

from typing import Any, Literal, get_args

import msgspec
import rfc8785

from sealguard.decide.authority import DecisionKind

DOMAIN = "sealguard-decision/1"
Meaning = Literal["approval", "review", "responsibility"]
MEANINGS: tuple[Meaning, ...] = get_args(Meaning)


class Answers(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The log record a decision answers: an event, a proposal, or an incident."""

    id: str  # RTE_…, PRO_… or INC_…
    seq: int  # its line in the log
    leaf_hash: str  # hex SHA-256 leaf hash (RFC 9162) of that exact line


class LogView(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The log as the signer saw it: its latest signed checkpoint."""

    size: int
    root: str  # hex


class Result(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The baseline version a decision puts in force (or authorises, for a planned change)."""

    version: int
    baseline_sha256: str
    proposal: str | None  # PRO_… whose files it installs; None for a rollback to a kept version


class Payload(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    domain: str
    origin: str  # the log's origin: a payload made for one log means nothing in another
    decision_id: str
    decision: DecisionKind
    meaning: Meaning
    reason: str
    decided_at: str  # UTC, ISO 8601, when the payload was made
    answers: Answers
    log: LogView
    result: Result | None
    incident: str | None = None  # INC_… the decision belongs to
    report_sha256: str | None = None  # close-incident: the incident report's final hash


PAYLOAD_FIELDS = tuple(Payload.__struct_fields__)


def signature_mark(armored: str) -> str:
    """A signature as replays are recognised: its armor without whitespace (line wrapping and
    a final newline do not make another signature)."""
    return "".join(armored.split())


def encode(payload: Payload) -> bytes:
    """The exact bytes signed: canonical JSON (RFC 8785) with a final newline, as a file."""
    data = msgspec.to_builtins(payload)
    return rfc8785.dumps(data) + b"\n"


def decode(data: bytes) -> Payload:
    """A payload read back (from a file given to `--payload`); ValueError when it is not one,
    or not in its canonical form (then it is not what was signed)."""
    try:
        payload = msgspec.json.decode(data, type=Payload)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None
    if encode(payload) != data:
        raise ValueError("not in its canonical form (RFC 8785, one final newline)")
    if payload.domain != DOMAIN:
        raise ValueError(f'its domain is "{payload.domain}", not "{DOMAIN}"')
    return payload


def from_record(record: dict[str, Any]) -> Payload:
    """The payload a journaled decision record says was signed (its own fields)."""
    fields = {name: record.get(name) for name in PAYLOAD_FIELDS}
    return msgspec.convert(fields, Payload)


def to_record(payload: Payload) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(payload)
    return data
