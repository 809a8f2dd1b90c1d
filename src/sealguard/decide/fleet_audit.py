"""INV-D-06 for a fleet decision journaled on this host (decide/fleet_decisions.py).

Its architects signed the fleet payload, not this log's decision payload: the record keeps that
payload, and the host's own fields (the proposal answered in this log, the log its checkpoint
showed, the version it results in) beside it. `verify` holds the signatures over the fleet
payload against the AUTHORITY.toml in force when it was journaled, the host's fields to the
signed ones, the proposal it answers to the signed content hash, the baseline then in force to
the signed base, and the place the host recorded to the signed scope. The binding to this log
(the answered line, the log prefix) is checked as for any decision (audit.py).
"""

import hashlib
from typing import Any

from sealguard.decide import fleet_payload
from sealguard.decide.authority import Authority, authorised_signer
from sealguard.decide.fleet_payload import NAMESPACE, FleetPayload
from sealguard.decide.installing import changes_authority
from sealguard.decide.payload import Payload
from sealguard.decide.sshsig import SignatureRefused


def _signers_problem(event: dict[str, Any], authority: Authority, data: bytes) -> str | None:
    ids: set[str] = set()
    for signer in event.get("signers") or []:
        try:
            person = authorised_signer(
                authority, data, str(signer.get("signature", "")), namespace=NAMESPACE
            )
        except SignatureRefused as exc:
            return f"a signature does not hold: {exc.message}"
        if person.id != signer.get("id") or person.name != signer.get("name"):
            return f"signer recorded as {signer.get('id')} but the key is {person.id}'s"
        ids.add(person.id)
    return None if ids else "it carries no signature"


def _agreement_problem(local: Payload, signed: FleetPayload) -> str | None:
    """The host's fields say what the signers signed."""
    result = local.result
    same = (
        local.decision_id == signed.decision_id
        and local.decision == signed.decision
        and local.meaning == signed.meaning
        and local.reason == signed.reason
        and local.decided_at == signed.decided_at
        and local.answers.id == signed.proposal.id
        and result is not None
        and result.proposal == signed.proposal.id
        and result.baseline_sha256 == signed.proposal.baseline_sha256
    )
    return None if same else "its fields are not those of the fleet payload its signers signed"


def _log_problem(local: Payload, signed: FleetPayload, before: list[dict[str, Any]]) -> str | None:
    """The proposal answered is the one signed, and the baseline then in force its base."""
    seq = local.answers.seq
    answered = next(
        (e for e in before if e.get("seq") == seq and e.get("type") == "proposal_made"), None
    )
    if answered is None or fleet_payload.content_sha256(answered) != signed.proposal.content_sha256:
        return f"the proposal it answers is not {signed.proposal.id} as signed"
    in_force = next(
        (
            e.get("baseline_sha256")
            for e in reversed(before)
            if e.get("type") in ("baseline_sealed", "baseline_installed")
        ),
        None,
    )
    if in_force != signed.base_sha256:
        return "the baseline in force when it was journaled is not the one it replaces"
    return None


def fleet_problem(
    event: dict[str, Any], local: Payload, authority: Authority, before: list[dict[str, Any]]
) -> str | None:
    """What is wrong with the fleet decision `event` (its host fields read as `local`) under
    `authority`, given the events `before` it; None when it holds."""
    fleet = event.get("fleet") or {}
    try:
        signed = fleet_payload.from_builtins(fleet.get("payload"))
    except ValueError as exc:
        return f"not a fleet decision record ({exc})"
    data = fleet_payload.encode(signed)
    if hashlib.sha256(data).hexdigest() != event.get("payload_sha256"):
        return "its payload hash does not match its fields"
    if problem := _signers_problem(event, authority, data):
        return problem
    signers = {str(s.get("id")) for s in event.get("signers") or []}
    needed = authority.required(signed.decision, changes_authority(before, local))
    if len(signers) < needed:
        return f"{signed.decision} needs {needed} architects, has {len(signers)}"
    place = fleet.get("place") or {}
    where = fleet_payload.not_here(
        signed, str(place.get("project")), str(place.get("host")), place.get("build")
    )
    if where is not None:
        return f"recorded as taken on {place.get('host')}, where it does not apply: {where}"
    return _agreement_problem(local, signed) or _log_problem(local, signed, before)
