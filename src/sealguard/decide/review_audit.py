"""Every signed review in the log verifies against the AUTHORITY in force when it was made.

As decide/audit.py does for decisions (INV-D-06): the log's own key signs checkpoints, not
reviews, so a review line written straight into the log (even with the checkpoints re-signed by
a stolen log key) carries no operator's or architect's signature over its payload in the review
namespace, and is reported here; so is a review line copied later (a replay). Whether the
report's content for the period is still what was signed is the report's to show; the evidence
under it is held by INV-D-07.
"""

import hashlib
from typing import Any

import msgspec

from sealguard.decide.audit import INVARIANT, authority_of, prefix_problem
from sealguard.decide.authority import Authority
from sealguard.decide.review_payload import encode, from_record
from sealguard.decide.review_periods import REVIEW_EVENT
from sealguard.decide.reviews import reviewer
from sealguard.decide.sshsig import SignatureRefused
from sealguard.ledger.view import Leaves
from sealguard.seal.integrity import Difference

AUTHORITY_EVENTS = ("baseline_sealed", "baseline_installed")  # each journals the file in force


def _signers_problem(event: dict[str, Any], authority: Authority, data: bytes) -> str | None:
    signers = event.get("signers") or []
    if not signers:
        return "it carries no signature"
    for signer in signers:
        try:
            person, role = reviewer(authority, data, str(signer.get("signature", "")))
        except SignatureRefused as exc:
            return f"a signature does not hold: {exc.message}"
        if (person.id, person.name, role) != (
            signer.get("id"),
            signer.get("name"),
            signer.get("role"),
        ):
            return f"signer recorded as {signer.get('id')} but the key is {person.id}'s"
    return None


def _review_problem(
    event: dict[str, Any], authority: Authority | str, leaves: Leaves | None
) -> str | None:
    if isinstance(authority, str):
        return authority
    try:
        payload = from_record(event)
    except (msgspec.ValidationError, TypeError) as exc:
        return f"not a review record ({exc})"
    data = encode(payload)
    if hashlib.sha256(data).hexdigest() != event.get("payload_sha256"):
        return "its payload hash does not match its fields"
    if problem := _signers_problem(event, authority, data):
        return problem
    if leaves is None:
        return None  # its binding to the log was held when it was new
    return prefix_problem(leaves, payload.log.size, payload.log.root, event)


def _replayed(event: dict[str, Any], seen: dict[str, Any]) -> str | None:
    """A review id seen earlier: a copied line. (The id is signed, so an old signature under
    a new id does not verify: it is found as a signature that does not hold.)"""
    review_id = str(event.get("review_id"))
    earlier = seen.setdefault(review_id, event.get("seq"))
    if earlier == event.get("seq"):
        return None
    return f"replayed: its id was journaled at seq {earlier}"


def check_reviews(
    events: list[dict[str, Any]], leaves: Leaves, checked_before: int = 0
) -> list[Difference]:
    """Every review, in log order, against the AUTHORITY.toml in force at its line; the log
    prefix its signers saw is held to `leaves` for reviews from seq `checked_before` on (as
    `check_decisions` does)."""
    found: list[Difference] = []
    authority: Authority | str = authority_of(None)
    seen: dict[str, Any] = {}
    for event in events:
        kind = event.get("type")
        if kind in AUTHORITY_EVENTS:
            authority = authority_of(event.get("authority"))
        elif kind == REVIEW_EVENT:
            bound = int(event.get("seq", 0)) >= checked_before
            problem = _replayed(event, seen) or _review_problem(
                event, authority, leaves if bound else None
            )
            if problem:
                where = f"governance log seq {event.get('seq')}"
                text = f"review {event.get('review_id')}: {problem}"
                found.append(Difference("modified", where, text, INVARIANT))
    return found
