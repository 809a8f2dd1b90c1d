"""`sealguard decide`: a written decision, signed by authorised people, bound to what it answers.

Two steps, so that a payload can be signed elsewhere (an air-gapped machine, ssh-keygen):
`prepare` checks that the decision may be taken now and makes the payload (creating the accept
proposal from the drift's snapshot when needed); `record` checks the payload again against the
log as it is now, verifies every signature against the AUTHORITY.toml in force, journals the
decision and carries it out (installs the baseline version it names). Every refusal is
journaled as a `decision_refused` attempt, and exits 4 with the reason.
"""

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sealguard import ledger
from sealguard.config import Config
from sealguard.decide import incidents, installing, proposals
from sealguard.decide.authority import Authority, DecisionKind, authorised_signer, parse_authority
from sealguard.decide.payload import (
    DOMAIN,
    Answers,
    LogView,
    Meaning,
    Payload,
    Result,
    signature_mark,
    to_record,
)
from sealguard.decide.payload import decode as decode_payload
from sealguard.decide.payload import encode as encode_payload
from sealguard.decide.sshsig import NAMESPACE, SignatureRefused, claimed_keys, signature_key
from sealguard.errors import BusyError, ConfigError, RefusedError
from sealguard.escalation import outbox
from sealguard.events import iso_utc, new_id
from sealguard.ledger import view
from sealguard.lock import observer_lock
from sealguard.project import Project
from sealguard.seal import versions
from sealguard.state import (
    RUNTIME_EVENT,
    ObservationState,
    authority_text,
    fold,
    signer_names,
)

DECISION_EVENT = "decision"
REFUSED_EVENT = "decision_refused"


@dataclass(frozen=True)
class Request:
    target: str  # RTE_… (accept, investigate, rollback), PRO_… (reseal, amend), INC_…
    kind: DecisionKind
    reason: str
    meaning: Meaning = "approval"
    to_version: int | None = None  # rollback only


@dataclass(frozen=True)
class Decided:
    record: dict[str, Any]  # the journaled decision
    installed: dict[str, Any] | None  # the baseline_installed event, when it installed one
    state: ObservationState  # after it


@dataclass
class _Log:
    project: Project
    ledger: ledger.Ledger
    events: list[dict[str, Any]]
    state: ObservationState
    fleet_id: str | None = None  # a fleet decision's DEC_ id, named by its refusals here

    @classmethod
    def read(cls, project: Project, config: Config) -> "_Log":
        versions.complete_install(project)
        ledger_ = project.ledger(config)
        if not project.log_file.is_file():
            raise RefusedError("nothing is sealed here: there is nothing to decide")
        events = ledger.read_events(project.log_file)
        state = fold(events)
        if state.mode == "UNSEALED":
            raise RefusedError("nothing is sealed here: there is nothing to decide")
        return cls(project, ledger_, events, state)

    def refuse(
        self, request: Request, code: str, message: str, claimed: Sequence[str] = ()
    ) -> RefusedError:
        """Journal the refused attempt (INV-D-05's spirit: nothing refused goes unrecorded)."""
        fields = {
            "target": request.target,
            "decision": request.kind,
            "reason_code": code,
            "message": message,
            "claimed_signers": list(claimed),
        }
        if self.fleet_id is not None:
            fields["fleet_id"] = self.fleet_id
        ledger.append(self.ledger, REFUSED_EVENT, fields)
        return RefusedError(f"decision refused ({code}): {message}")

    def record_of(self, type_: str, key: str, value: str) -> dict[str, Any] | None:
        return next(
            (e for e in self.events if e.get("type") == type_ and e.get(key) == value), None
        )

    def authority(self) -> tuple[str | None, str]:
        return authority_text(self.events), f"v{self.state.version}"


def _next_version(state: ObservationState) -> int:
    return max(state.versions, default=0) + 1


@dataclass(frozen=True)
class _Expected:
    answers: dict[str, Any]  # the record answered
    result: Result | None
    incident: str | None = None
    report_sha256: str | None = None


def _frozen_by(log: _Log, request: Request) -> dict[str, Any]:
    state = log.state
    if log.record_of(RUNTIME_EVENT, "event_id", request.target) is None:
        raise log.refuse(
            request, "unknown", f"no observation {request.target} in the governance log"
        )
    if request.target != state.because:
        raise log.refuse(
            request,
            "not-the-stop",
            f"{request.target} is not the event that stopped observation "
            f"({state.because} did, {state.mode} since {state.since})",
        )
    record = log.record_of(RUNTIME_EVENT, "event_id", request.target)
    if record is None:
        raise log.refuse(request, "unknown", f"no event {request.target} in the log")
    return record


def _accept(log: _Log, request: Request, now: datetime, create: bool) -> _Expected:
    state = log.state
    if state.mode == "HALTED":
        raise log.refuse(
            request,
            "halted",
            "accept is refused while HALTED: an incident has its own way out (its report, "
            "a re-seal or rollback decision, a STABLE `sealguard certify`, then "
            "`sealguard incident close`)",
        )
    if state.mode != "FROZEN":
        raise log.refuse(request, "not-frozen", f"observation is {state.mode}: nothing to accept")
    event = _frozen_by(log, request)
    found = next(
        (
            proposals.Proposal(e)
            for e in log.events
            if e.get("type") == proposals.PROPOSAL_EVENT
            and e.get("kind") == "accept"
            and e.get("answers") == request.target
            and e.get("base_version") == state.version
        ),
        None,
    )
    if found is None:
        if not create:
            raise log.refuse(request, "no-proposal", f"no accept proposal for {request.target}")
        try:
            found = proposals.propose_accept(log.project, log.ledger, state, event, now)
        except RefusedError as exc:
            raise log.refuse(request, "evidence", exc.message) from None
        log.events.append(found.record)
    result = Result(
        version=_next_version(state),
        baseline_sha256=found.baseline_sha256,
        proposal=found.proposal_id,
    )
    return _Expected(event, result)


def _investigate(log: _Log, request: Request) -> _Expected:
    if log.state.mode != "FROZEN":
        raise log.refuse(
            request,
            "not-frozen",
            f"observation is {log.state.mode}: only a FROZEN observation is investigated "
            "(an incident is investigated through its report)",
        )
    return _Expected(_frozen_by(log, request), None)


def _rollback(log: _Log, request: Request) -> _Expected:
    state = log.state
    if state.mode == "OBSERVING":
        raise log.refuse(request, "not-stopped", "observation is OBSERVING: nothing to roll back")
    if state.incident and request.target == state.incident.incident_id:
        answered = log.record_of(incidents.OPENED, "incident_id", request.target) or {}
    else:
        answered = _frozen_by(log, request)
    version = request.to_version
    if version is None or version not in state.versions:
        known = ", ".join(f"v{v}" for v in sorted(state.versions))
        raise log.refuse(
            request, "version", f"rollback needs --to vN, one of the versions kept ({known})"
        )
    result = Result(version=version, baseline_sha256=state.versions[version], proposal=None)
    return _Expected(answered, result, state.incident.incident_id if state.incident else None)


def _reseal(log: _Log, request: Request) -> _Expected:
    state = log.state
    found = proposals.find(log.events, request.target)
    if found is None:
        raise log.refuse(request, "unknown", f"no proposal {request.target} in the log")
    if found.kind != request.kind:
        raise log.refuse(
            request,
            "kind",
            f"{request.target} is a proposal to {found.kind}, not to {request.kind}",
        )
    if found.record.get("base_version") != state.version:
        raise log.refuse(
            request,
            "stale",
            f"{request.target} was made against v{found.record.get('base_version')}, "
            f"but v{state.version} is in force: propose again",
        )
    if state.mode == "HALTED" and state.incident is None:
        raise log.refuse(request, "halted", f"observation is HALTED ({state.reason})")
    result = Result(
        version=_next_version(state),
        baseline_sha256=found.baseline_sha256,
        proposal=found.proposal_id,
    )
    return _Expected(found.record, result, state.incident.incident_id if state.incident else None)


def _close(log: _Log, request: Request) -> _Expected:
    state = log.state
    if state.incident is None or state.incident.incident_id != request.target:
        open_ = state.incident.incident_id if state.incident else "none"
        raise log.refuse(
            request, "not-open", f"{request.target} is not the open incident ({open_})"
        )
    report = log.project.root / state.incident.report
    try:
        text = report.read_text("utf-8")
    except OSError as exc:
        raise log.refuse(request, "report", f"{state.incident.report}: {exc.strerror}") from None
    if missing := incidents.missing_sections(text):
        raise log.refuse(
            request,
            "report",
            f"{state.incident.report}: sections still to write: {', '.join(missing)}",
        )
    if state.certified is None:
        raise log.refuse(
            request,
            "certification",
            "no STABLE certification since the incident's decision: decide a re-seal or a "
            "rollback, restore the build, then run `sealguard certify`",
        )
    answered = log.record_of(incidents.OPENED, "incident_id", request.target) or {}
    digest = hashlib.sha256(report.read_bytes()).hexdigest()
    return _Expected(answered, None, request.target, digest)


def _expected(log: _Log, request: Request, now: datetime, create: bool) -> _Expected:
    if log.state.log_lost:
        raise RefusedError("the governance log is lost: nothing can be decided")
    if request.kind == "accept":
        return _accept(log, request, now, create)
    if request.kind == "investigate":
        return _investigate(log, request)
    if request.kind == "rollback":
        return _rollback(log, request)
    if request.kind in ("reseal", "amend"):
        return _reseal(log, request)
    return _close(log, request)


@contextmanager
def _alone(project: Project, config: Config) -> Iterator[None]:
    """One act on the project at a time: a decision reads the log, checks it, then journals
    and installs; another decision or an observation in between would be checked against a
    log that is no longer the one it lands in (two accepts, two installations)."""
    try:
        with observer_lock(project.ledger(config).folder):
            yield
    except BusyError:
        raise BusyError(
            "another observation or decision of this project is running; decide again once "
            "it is done (`sealguard status`)"
        ) from None


def prepare(project: Project, config: Config, request: Request, now: datetime) -> bytes:
    """The payload to sign for `request`, once it is known to be allowed now."""
    with _alone(project, config):
        return _prepare(project, config, request, now)


def _prepare(project: Project, config: Config, request: Request, now: datetime) -> bytes:
    log = _Log.read(project, config)
    if not request.reason.strip():
        raise log.refuse(request, "reason", "a decision needs a written reason (--reason)")
    expected = _expected(log, request, now, create=True)
    checkpoint = view.latest_checkpoint(log.ledger)
    leaves = view.leaves(project.log_file)
    seq = int(expected.answers["seq"])
    leaf = leaves.leaf(seq)
    assert leaf is not None
    payload = Payload(
        domain=DOMAIN,
        origin=checkpoint.origin,
        decision_id=new_id("DEC", now),
        decision=request.kind,
        meaning=request.meaning,
        reason=request.reason.strip(),
        decided_at=iso_utc(now),
        answers=Answers(id=request.target, seq=seq, leaf_hash=leaf.hex()),
        log=LogView(size=checkpoint.size, root=checkpoint.root.hex()),
        result=expected.result,
        incident=expected.incident,
        report_sha256=expected.report_sha256,
    )
    return encode_payload(payload)


def _request_of(payload: Payload) -> Request:
    to = payload.result.version if payload.result and payload.decision == "rollback" else None
    return Request(payload.answers.id, payload.decision, payload.reason, payload.meaning, to)


def journaled(events: list[dict[str, Any]], decision_id: str) -> bool:
    """Whether the decision `decision_id` is in the log already (taken once, never again)."""
    return any(
        e.get("decision_id") == decision_id for e in events if e.get("type") == DECISION_EVENT
    )


def _used_signatures(events: list[dict[str, Any]]) -> dict[str, str]:
    used = {}
    for event in events:
        if event.get("type") == DECISION_EVENT:
            for signer in event.get("signers", []):
                used[signature_mark(str(signer.get("signature", "")))] = str(
                    event.get("decision_id")
                )
    return used


def _check_payload(
    log: _Log, request: Request, payload: Payload, now: datetime, claimed: list[str]
) -> None:
    """The payload still describes the log as it is: same origin, same history, same answer."""
    if payload.origin != view.latest_checkpoint(log.ledger).origin:
        raise log.refuse(
            request, "origin", "the payload was made for another governance log", claimed
        )
    if journaled(log.events, payload.decision_id):
        raise log.refuse(
            request, "replayed", f"{payload.decision_id} is already journaled", claimed
        )
    leaves = view.leaves(log.project.log_file)
    root = leaves.root(payload.log.size)
    if root is None or root.hex() != payload.log.root:
        raise log.refuse(
            request,
            "history",
            f"the log the signers saw (size {payload.log.size}) is not a prefix of this log",
            claimed,
        )
    expected = _expected(log, request, now, create=False)
    leaf = leaves.leaf(payload.answers.seq)
    if (
        payload.answers.seq != expected.answers.get("seq")
        or leaf is None
        or leaf.hex() != payload.answers.leaf_hash
        or payload.result != expected.result
        or payload.incident != expected.incident
        or payload.report_sha256 != expected.report_sha256
    ):
        raise log.refuse(
            request,
            "stale",
            "the payload no longer matches what it answers (the record, the resulting "
            "baseline, or the incident report changed since it was made); prepare it again",
            claimed,
        )


def _authority(log: _Log, request: Request, claimed: list[str]) -> Authority:
    text, version = log.authority()
    if text is None:
        raise log.refuse(
            request,
            "no-authority",
            f"no AUTHORITY.toml was sealed with the baseline in force ({version}): nobody may "
            "sign decisions (see README: Authority)",
            claimed,
        )
    try:
        return parse_authority(text, log.project.authority_file)
    except ConfigError as exc:
        raise log.refuse(request, "no-authority", exc.message, claimed) from None


def signers_in_force(
    log: _Log,
    request: Request,
    data: bytes,
    signatures: Sequence[str],
    claimed: list[str],
    *,
    namespace: str = NAMESPACE,
) -> tuple[list[dict[str, Any]], Authority]:
    """Each signature, by an architect of the AUTHORITY.toml in force, used nowhere before in
    this log (one record per person); with that AUTHORITY, whose rule says how many it takes."""
    if not signatures:
        raise log.refuse(request, "unsigned", "the decision carries no signature", claimed)
    authority = _authority(log, request, claimed)
    used = _used_signatures(log.events)
    signers: dict[str, dict[str, Any]] = {}
    for armored in signatures:
        if earlier := used.get(signature_mark(armored)):
            raise log.refuse(
                request, "replayed", f"this signature was already used by {earlier}", claimed
            )
        try:
            person = authorised_signer(authority, data, armored, namespace=namespace)
        except SignatureRefused as exc:
            raise log.refuse(request, exc.reason, exc.message, claimed) from None
        signers.setdefault(
            person.id,
            {
                "id": person.id,
                "name": person.name,
                "key": signature_key(armored).fingerprint,
                "signature": armored.strip() + "\n",
            },
        )
    return list(signers.values()), authority


def _signers(
    log: _Log, payload: Payload, data: bytes, signatures: Sequence[str], claimed: list[str]
) -> list[dict[str, Any]]:
    request = _request_of(payload)
    signers, authority = signers_in_force(log, request, data, signatures, claimed)
    changes = installing.changes_authority(log.events, payload)
    enough_signers(log, request, authority, signers, claimed, changes=changes)
    return signers


def enough_signers(
    log: _Log,
    request: Request,
    authority: Authority,
    signers: list[dict[str, Any]],
    claimed: list[str],
    *,
    changes: bool,
    where: str = "",
) -> None:
    """Refuse unless `signers` are as many architects as the rule for this kind needs (the
    strictest when the decision `changes` AUTHORITY.toml); `where` qualifies the count."""
    needed = authority.required(request.kind, changes)
    if len(signers) < needed:
        why = " (it changes AUTHORITY.toml: the strictest rule applies)" if changes else ""
        raise log.refuse(
            request,
            "too-few",
            f"{request.kind} needs {needed} distinct architects{where}{why}; signed by "
            f"{len(signers)} ({', '.join(s['id'] for s in signers)})",
            claimed,
        )


def record(
    project: Project, config: Config, data: bytes, signatures: Sequence[str], now: datetime
) -> Decided:
    """Check `data` (a payload from `prepare`) and its signatures, journal, carry it out."""
    with _alone(project, config), ledger.one_checkpoint(project.ledger(config)):
        return _record(project, config, data, signatures, now)


def _record(
    project: Project, config: Config, data: bytes, signatures: Sequence[str], now: datetime
) -> Decided:
    log = _Log.read(project, config)
    claimed = claimed_keys(signatures)
    try:
        payload = decode_payload(data)
    except ValueError as exc:
        unknown = Request("?", "accept", "")
        raise log.refuse(unknown, "payload", f"not a decision payload: {exc}", claimed) from None
    request = _request_of(payload)
    _check_payload(log, request, payload, now, claimed)
    signers = _signers(log, payload, data, signatures, claimed)
    signed = {"signers": signers, "payload_sha256": hashlib.sha256(data).hexdigest()}
    return carry_out(log, request, payload, signed, claimed)


def carry_out(
    log: _Log, request: Request, payload: Payload, signed: dict[str, Any], claimed: list[str]
) -> Decided:
    """Journal a decision whose signatures hold (`signed`: its signers, the hash of what they
    signed, and for a fleet decision that payload) and carry it out."""
    try:  # checked before the decision is journaled: a decision is never left half done
        installation = installing.installation(log.project, log.events, log.state, payload)
    except RefusedError as exc:
        raise log.refuse(request, "evidence", exc.message, claimed) from None
    fields = {**to_record(payload), **signed}
    decided = ledger.append(log.ledger, DECISION_EVENT, fields)
    log.events.append(decided)
    # before installing: its escalation is answered, and a crash there is completed later
    _close_escalations(log, payload, decided)
    installed = (
        versions.install(log.project, log.ledger, log.state.version, *installation)
        if installation
        else None
    )
    return Decided(decided, installed, fold(ledger.read_events(log.project.log_file)))


def _close_escalations(log: _Log, payload: Payload, decided: dict[str, Any]) -> None:
    """A signed decision on the event that stopped observation answers its escalation (it
    reached the Architect): it is closed, by the decision, and no longer retried or handed on.
    Closing an incident answers the escalation of the event that opened it."""
    answered = {payload.answers.id}
    if payload.decision == "close-incident":
        opened = log.record_of(incidents.OPENED, "incident_id", payload.answers.id) or {}
        answered.add(str(opened.get("event_id")))
    items = [
        (
            "escalation_acknowledged",
            {
                "escalation_id": esc.escalation_id,
                "by": f"{payload.decision_id} ({signer_names(decided)})",
                "note": f"closed by the decision to {payload.decision}: {payload.reason}",
            },
        )
        for esc in outbox.fold(log.events).values()
        if {esc.event_id, esc.latest_event_id} & answered and esc.acknowledged_by is None
    ]
    if items:
        ledger.append_many(log.ledger, items)


def read_signatures(paths: Sequence[Path]) -> list[str]:
    from sealguard.errors import UsageError

    found = []
    for path in paths:
        try:
            found.append(path.read_text("ascii"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: cannot read the signature: {exc}") from None
    return found
