"""`sealguard review`: a signed review of the audit trail for one period (EU GMP Annex 11 §9).

As a decision, two steps, so that a payload can be signed elsewhere: `prepare` checks the period
and the reason and makes the payload, binding the report's content hash for that period;
`record` checks the payload again against the log and the evidence as they are now, verifies
every signature (namespace `sealguard-review`) against the AUTHORITY.toml in force, and
journals one `audit_review` event. Anyone holding the role operator or architect may sign. A
review changes nothing else: not the state of observation, not an escalation. Every refusal is
journaled as a `review_refused` attempt and exits 4 with the reason.
"""

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sealguard import ledger
from sealguard.config import Config
from sealguard.decide.authority import Authority, Person, Role, parse_authority, signer
from sealguard.decide.payload import LogView
from sealguard.decide.review_payload import (
    DOMAIN,
    MEANING,
    NAMESPACE,
    Period,
    ReviewPayload,
    decode,
    encode,
    moment_text,
    parse_moment,
    to_record,
)
from sealguard.decide.review_periods import REVIEW_EVENT
from sealguard.decide.sshsig import SignatureRefused, claimed_keys, signature_key
from sealguard.errors import BusyError, ConfigError, RefusedError
from sealguard.events import iso_utc, new_id
from sealguard.ledger import view
from sealguard.lock import observer_lock
from sealguard.project import Project
from sealguard.state import authority_text, fold

REFUSED_EVENT = "review_refused"
REVIEWER_ROLES: tuple[Role, ...] = ("architect", "operator")  # the first held is recorded


def report_content(project: Project, config: Config, since: datetime, until: datetime) -> str:
    """What a review signs: the content hash of the report for [since, until), folded from the
    log and the evidence as `sealguard report` folds it (report/trail.py)."""
    from sealguard.report.trail import content_sha256
    from sealguard.report.trail_source import load_trail

    return content_sha256(load_trail(project, config, since, until))


@dataclass(frozen=True)
class ReviewRequest:
    since: datetime
    until: datetime
    reason: str


@dataclass
class _Log:
    project: Project
    config: Config
    ledger: ledger.Ledger
    events: list[dict[str, Any]]

    @classmethod
    def read(cls, project: Project, config: Config) -> "_Log":
        ledger_ = project.ledger(config)
        events = ledger.read_events(project.log_file) if project.log_file.is_file() else []
        if fold(events).mode == "UNSEALED":
            raise RefusedError("nothing is sealed here: there is no audit trail to review")
        return cls(project, config, ledger_, events)

    def refuse(
        self, period: Period | None, code: str, message: str, claimed: Sequence[str] = ()
    ) -> RefusedError:
        """Journal the refused attempt: nothing refused goes unrecorded."""
        fields = {
            "period": None if period is None else {"since": period.since, "until": period.until},
            "reason_code": code,
            "message": message,
            "claimed_signers": list(claimed),
        }
        ledger.append(self.ledger, REFUSED_EVENT, fields)
        return RefusedError(f"review refused ({code}): {message}")


@contextmanager
def _alone(project: Project, config: Config) -> Iterator[None]:
    """One act on the project at a time: the content hash is checked against the log that the
    review then lands in (as decisions.py does)."""
    try:
        with observer_lock(project.ledger(config).folder):
            yield
    except BusyError:
        raise BusyError(
            "another observation, decision or review of this project is running; review again "
            "once it is done (`sealguard status`)"
        ) from None


def _check_request(
    log: _Log, request: ReviewRequest, now: datetime, claimed: Sequence[str] = ()
) -> Period:
    period = Period(since=moment_text(request.since), until=moment_text(request.until))
    if request.since >= request.until:
        raise log.refuse(
            period,
            "period",
            f"the period ends ({period.until}) before it starts ({period.since})"
            if request.since > request.until
            else f"the period starts and ends at {period.since}: it holds nothing",
            claimed,
        )
    # An observation belongs to the period by its observed_at, to the second: one started
    # later within the current second would still fall in it (and the hash signed go stale).
    if request.until > now.replace(microsecond=0):
        raise log.refuse(
            period,
            "future",
            f"the period ends at {period.until}, in the future or within the current second "
            f"(it is {moment_text(now)}): only what has happened can be reviewed",
            claimed,
        )
    if not request.reason.strip():
        raise log.refuse(period, "reason", "a review needs a written reason (--reason)", claimed)
    return period


def prepare(project: Project, config: Config, request: ReviewRequest, now: datetime) -> bytes:
    """The payload to sign for reviewing `request`'s period as the report shows it now."""
    with _alone(project, config):
        log = _Log.read(project, config)
        period = _check_request(log, request, now)
        checkpoint = view.latest_checkpoint(log.ledger)
        payload = ReviewPayload(
            domain=DOMAIN,
            origin=checkpoint.origin,
            review_id=new_id("REV", now),
            meaning=MEANING,
            reason=request.reason.strip(),
            reviewed_at=iso_utc(now),
            period=period,
            report_sha256=report_content(project, config, request.since, request.until),
            log=LogView(size=checkpoint.size, root=checkpoint.root.hex()),
        )
        return encode(payload)


def reviewer(authority: Authority, data: bytes, armored: str) -> tuple[Person, Role]:
    """The person, and the role they review in, whose signature over `data` `armored` is, in
    the review namespace. SignatureRefused (exit 4) for a bad signature, a signature made for
    another use (a decision's), a key no person holds, a person who is no operator or
    architect."""
    person, key = signer(authority, data, armored, NAMESPACE)
    role = next((r for r in REVIEWER_ROLES if person.has(r)), None)
    if role is None:
        raise SignatureRefused(
            f"{person.name} ({person.id}) signed with {key.fingerprint}, but is neither an "
            "operator nor an architect",
            "role",
        )
    return person, role


def _journaled_ids(events: list[dict[str, Any]]) -> set[str]:
    """The review ids already journaled. The id is part of what is signed, so a signature can
    only ever be replayed with its own payload, hence its own id: the id is the replay mark."""
    return {str(e.get("review_id")) for e in events if e.get("type") == REVIEW_EVENT}


def _check_payload(log: _Log, payload: ReviewPayload, now: datetime, claimed: list[str]) -> None:
    """The payload is for this log, new, made on a prefix of it, and still names the content
    the report shows for its period now: the signers signed what is there."""
    try:
        since, until = parse_moment(payload.period.since), parse_moment(payload.period.until)
    except ValueError as exc:
        raise log.refuse(payload.period, "payload", f"its period: {exc}", claimed) from None
    _check_request(log, ReviewRequest(since, until, payload.reason), now, claimed)
    period = payload.period
    if payload.origin != view.latest_checkpoint(log.ledger).origin:
        raise log.refuse(
            period, "origin", "the payload was made for another governance log", claimed
        )
    if payload.review_id in _journaled_ids(log.events):
        raise log.refuse(period, "replayed", f"{payload.review_id} is already journaled", claimed)
    root = view.leaves(log.project.log_file).root(payload.log.size)
    if root is None or root.hex() != payload.log.root:
        raise log.refuse(
            period,
            "history",
            f"the log the signers saw (size {payload.log.size}) is not a prefix of this log",
            claimed,
        )
    if report_content(log.project, log.config, since, until) != payload.report_sha256:
        raise log.refuse(
            period,
            "stale",
            "the report for this period is no longer the one signed (its events or evidence "
            "changed since the payload was made); prepare it again and read the report",
            claimed,
        )


def _authority(log: _Log, period: Period, claimed: list[str]) -> Authority:
    text = authority_text(log.events)
    if text is None:
        raise log.refuse(
            period,
            "no-authority",
            "no AUTHORITY.toml was sealed with the baseline in force: nobody may sign a review "
            "(see README: Authority)",
            claimed,
        )
    try:
        return parse_authority(text, log.project.authority_file)
    except ConfigError as exc:
        raise log.refuse(period, "no-authority", exc.message, claimed) from None


def _signers(
    log: _Log, payload: ReviewPayload, data: bytes, signatures: Sequence[str], claimed: list[str]
) -> list[dict[str, Any]]:
    """Each distinct person who signed, as journaled: id, printed name, role, key, signature."""
    if not signatures:
        raise log.refuse(
            payload.period,
            "unsigned",
            "the review carries no signature (sign it: --key PATH, --agent, or --payload FILE "
            "--signature FILE)",
            claimed,
        )
    authority = _authority(log, payload.period, claimed)
    signers: dict[str, dict[str, Any]] = {}
    for armored in signatures:
        try:
            person, role = reviewer(authority, data, armored)
        except SignatureRefused as exc:
            raise log.refuse(payload.period, exc.reason, exc.message, claimed) from None
        signers.setdefault(
            person.id,
            {
                "id": person.id,
                "name": person.name,
                "role": role,
                "key": signature_key(armored).fingerprint,
                "signature": armored.strip() + "\n",
            },
        )
    return list(signers.values())


def record(
    project: Project,
    config: Config,
    data: bytes,
    signatures: Sequence[str],
    now: datetime,
) -> dict[str, Any]:
    """Check `data` (a payload from `prepare`) and its signatures, and journal the review: one
    act, one checkpoint. Returns the journaled `audit_review` event."""
    with _alone(project, config), ledger.one_checkpoint(project.ledger(config)):
        log = _Log.read(project, config)
        claimed = claimed_keys(signatures)
        try:
            payload = decode(data)
        except ValueError as exc:
            raise log.refuse(None, "payload", f"not a review payload: {exc}", claimed) from None
        _check_payload(log, payload, now, claimed)
        fields = {
            **to_record(payload),
            "signers": _signers(log, payload, data, signatures, claimed),
            "payload_sha256": hashlib.sha256(data).hexdigest(),
        }
        return ledger.append(log.ledger, REVIEW_EVENT, fields)
