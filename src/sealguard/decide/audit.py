"""INV-D-06: every decision in the log verifies against the AUTHORITY in force when it was made.

The log's own key signs checkpoints, not decisions: a decision line written straight into the
log (even with the checkpoints re-signed by a stolen log key) carries no architect's signature
over its payload, and is reported here. So is a baseline installed without a valid decision, and
an incident report edited after the decision that closed it bound its hash.
"""

import hashlib
from pathlib import Path
from typing import Any

import msgspec

from sealguard.decide.authority import Authority, authorised_signer, parse_authority
from sealguard.decide.fleet_audit import fleet_problem
from sealguard.decide.installing import changes_authority
from sealguard.decide.payload import Payload, encode, from_record, signature_mark
from sealguard.decide.sshsig import SignatureRefused
from sealguard.errors import ConfigError
from sealguard.fsio import sha256_of
from sealguard.ledger.view import Leaves
from sealguard.seal.integrity import Difference

INVARIANT = "INV-D-06"


def authority_of(text: Any) -> Authority | str:
    """The AUTHORITY.toml journaled with a baseline, parsed; or why nobody may sign under it."""
    if not isinstance(text, str):
        return "no AUTHORITY.toml was sealed with the baseline in force"
    try:
        return parse_authority(text, Path("AUTHORITY.toml"))
    except ConfigError as exc:
        return exc.message


def _decision_problem(
    event: dict[str, Any],
    authority: Authority | str,
    leaves: Leaves | None,
    before: list[dict[str, Any]],
) -> str | None:
    if isinstance(authority, str):
        return authority
    try:
        payload = from_record(event)
    except (msgspec.ValidationError, TypeError) as exc:
        return f"not a decision record ({exc})"
    signed = (  # a fleet decision's architects signed the fleet's payload (fleet_audit.py)
        fleet_problem(event, payload, authority, before)
        if event.get("fleet_id") is not None
        else _signed_problem(event, payload, authority, before)
    )
    if signed or leaves is None:
        return signed  # without leaves: its binding to the log was held when it was new
    leaf = leaves.leaf(payload.answers.seq)
    if leaf is None or leaf.hex() != payload.answers.leaf_hash:
        return f"it answers seq {payload.answers.seq}, whose line is not the one signed for"
    return prefix_problem(leaves, payload.log.size, payload.log.root, event)


def _signed_problem(
    event: dict[str, Any], payload: Payload, authority: Authority, before: list[dict[str, Any]]
) -> str | None:
    data = encode(payload)
    if hashlib.sha256(data).hexdigest() != event.get("payload_sha256"):
        return "its payload hash does not match its fields"
    signers: set[str] = set()
    for signer in event.get("signers") or []:
        try:
            person = authorised_signer(authority, data, str(signer.get("signature", "")))
        except SignatureRefused as exc:
            return f"a signature does not hold: {exc.message}"
        if person.id != signer.get("id") or person.name != signer.get("name"):
            return f"signer recorded as {signer.get('id')} but the key is {person.id}'s"
        signers.add(person.id)
    needed = authority.required(payload.decision, changes_authority(before, payload))
    if len(signers) < needed:
        return f"{payload.decision} needs {needed} architects, has {len(signers)}"
    return None


def prefix_problem(leaves: Leaves, size: int, root: str, event: dict[str, Any]) -> str | None:
    """A signed act names the log its signers saw (size, root): that must be a prefix of this
    log, ending before the act's own line."""
    found = leaves.root(size)
    if size > int(event.get("seq", 0)) or found is None or found.hex() != root:
        return "the log its signers saw is not a prefix of this log"
    return None


def _replayed(event: dict[str, Any], seen: dict[str, Any]) -> str | None:
    marks = [str(event.get("decision_id"))] + [
        signature_mark(str(s.get("signature", ""))) for s in event.get("signers") or []
    ]
    earlier = next((seen[m] for m in marks if m in seen), None)
    for mark in marks:
        seen.setdefault(mark, event.get("seq"))
    if earlier is None:
        return None
    return f"replayed: its id or a signature was journaled at seq {earlier}"


def check_decisions(
    root: Path, events: list[dict[str, Any]], leaves: Leaves, checked_before: int = 0
) -> list[Difference]:
    """Every decision, baseline installation and closed incident report, in log order. The
    lines a decision binds (its answered record and the log prefix its signers saw) are held
    to `leaves` for decisions from seq `checked_before` on: earlier ones were held when new,
    and the log before the verified state has not moved since (ledger/verified.py)."""
    found: list[Difference] = []
    authority: Authority | str = authority_of(None)
    valid: dict[str, dict[str, Any]] = {}
    seen: dict[str, Any] = {}  # decision ids and signatures already journaled: their seq
    installed: set[str] = set()  # decisions that already installed their version
    for index, event in enumerate(events):
        kind = event.get("type")
        where = f"governance log seq {event.get('seq')}"
        if kind == "baseline_sealed":
            authority = authority_of(event.get("authority"))
        elif kind == "decision":
            # a valid line copied later holds every check below: it is a replay all the same
            bound = int(event.get("seq", 0)) >= checked_before
            problem = _replayed(event, seen) or _decision_problem(
                event, authority, leaves if bound else None, events[:index]
            )
            if problem:
                found.append(
                    Difference(
                        "modified",
                        where,
                        f"decision {event.get('decision_id')}: {problem}",
                        INVARIANT,
                    )
                )
            else:
                valid[str(event.get("decision_id"))] = event
        elif kind == "baseline_installed":
            decision = valid.get(str(event.get("decision")))
            result = (decision or {}).get("result") or {}
            if (
                decision is None
                or result.get("baseline_sha256") != event.get("baseline_sha256")
                or result.get("version") != event.get("version")
                or str(event.get("decision")) in installed  # one decision, one installation
            ):
                found.append(
                    Difference(
                        "modified",
                        where,
                        f"baseline v{event.get('version')} installed without a valid decision",
                        INVARIANT,
                    )
                )
            installed.add(str(event.get("decision")))
            authority = authority_of(event.get("authority"))
    found += _closed_reports(root, events, valid)
    return found


def _closed_reports(
    root: Path, events: list[dict[str, Any]], valid: dict[str, dict[str, Any]]
) -> list[Difference]:
    reports = {
        e.get("incident_id"): e.get("report") for e in events if e.get("type") == "incident_opened"
    }
    found = []
    for decision in valid.values():
        if decision.get("decision") != "close-incident":
            continue
        report = reports.get(decision.get("incident"))
        path = root / str(report)
        try:
            digest = sha256_of(path)
        except OSError:
            digest = None
        if digest != decision.get("report_sha256"):
            found.append(
                Difference(
                    "modified",
                    str(report),
                    f"the report of {decision.get('incident')} is not the one "
                    f"{decision.get('decision_id')} closed",
                    INVARIANT,
                )
            )
    return found
