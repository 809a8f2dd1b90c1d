"""Decisions for many hosts: signed once where the proposal was made, applied where it says.

A proposal made with `propose --hosts H1,H2` or `--build NAME` is decided as any other
(`decide PRO_… reseal|amend`), but its payload is a fleet payload (fleet_payload.py), signed
under its own namespace. `record` checks the signatures against this host's AUTHORITY.toml,
publishes the proposal and the decision to the fleet database (fleet/publication.py), then
applies the decision here like any other host.

Every host picks up the decisions published for its project that it has not journaled yet (when
it observes, or with `sealguard fleet pull`). It trusts nothing the database says: it checks the
signatures against its own AUTHORITY.toml in force, that the payload's project, scope and base
baseline are its own, that the proposal's files are those the payload signs, and that it never
took that decision before. Then it journals the proposal and the decision through the decision
path (decisions.carry_out), as if `decide` had been run here, with the fleet id recorded: a
planned change, installed by the observation that sees the tree exactly as proposed (or at
once when observation is stopped, as a host's own re-seal is). A decision that does not apply is
journaled as `decision_refused` with the reason and its `fleet_id`: once per host either way.
"""

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, cast

from sealguard import ledger
from sealguard.config import Config
from sealguard.decide import fleet_payload, proposals
from sealguard.decide.decisions import (  # the one decision path (this module is its fleet form)
    DECISION_EVENT,
    REFUSED_EVENT,
    Decided,
    Request,
    _alone,
    _expected,
    _Log,
    carry_out,
    enough_signers,
    journaled,
    signers_in_force,
)
from sealguard.decide.fleet_payload import NAMESPACE, FleetPayload, Proposed
from sealguard.decide.payload import DOMAIN, Answers, LogView, Payload
from sealguard.decide.sshsig import claimed_keys
from sealguard.errors import FleetError, RefusedError, UsageError
from sealguard.events import iso_utc, new_id
from sealguard.fleet.publication import PublishedDecision, PublishedProposal
from sealguard.fleet.shipping import warn
from sealguard.fleet.urls import shown
from sealguard.ledger import view
from sealguard.ledger.journal import notable_events
from sealguard.ledger.layout import FleetPlace
from sealguard.project import BASELINE_NAME, Project
from sealguard.state import authority_text

Offered = Callable[[str], PublishedProposal | None]  # a proposal by id, from where it is held


@dataclass(frozen=True)
class Pulled:
    """What one host did with one published decision."""

    decision_id: str
    decided: Decided | None  # journaled here
    refused: str | None = None  # or why not (journaled here as decision_refused)

    def text(self) -> str:
        if self.decided is None:
            return f"{self.decision_id}: {self.refused}"
        record, installed = self.decided.record, self.decided.installed
        result = record.get("result") or {}
        taken = f"{self.decision_id}: {record.get('decision')} {result.get('proposal')} journaled"
        if installed:
            return f"{taken}; baseline v{installed.get('version')} installed"
        if self.decided.state.authorised:
            return (
                f"{taken}; authorised: the observation that sees the tree exactly as proposed "
                f"installs v{result.get('version')}"
            )
        return f"{taken}; {self.decided.state.mode}: {self.decided.state.next_step}"


@dataclass(frozen=True)
class Published:
    """A fleet decision made here: published, and what this host did with it."""

    payload: FleetPayload
    signers: list[dict[str, Any]]
    url: str
    host: str
    here: Pulled

    def text(self) -> str:
        names = ", ".join(f"{s['name']} ({s['id']})" for s in self.signers)
        return (
            f"{self.payload.decision_id}: {self.payload.decision} {self.payload.proposal.id} for "
            f"{fleet_payload.describe(self.payload.scope)}, signed by {names}; published to "
            f"{shown(self.url)}\nhere ({self.host}): {self.here.text()}"
        )


def _place(project: Project, config: Config) -> FleetPlace:
    place = project.ledger(config).fleet
    if place is None:
        raise UsageError(
            "no fleet database is configured here ([ledger] url in sealguard.toml): decisions "
            "for other hosts go through it"
        )
    return place


def is_fleet_proposal(project: Project, request: Request | None) -> bool:
    """Whether `request` decides a proposal made for hosts of the fleet."""
    if request is None or request.kind not in ("reseal", "amend"):
        return False
    if not project.log_file.is_file():
        return False
    found = proposals.find(ledger.read_events(project.log_file), request.target)
    return found is not None and bool(found.record.get("fleet"))


def _request_of(payload: FleetPayload) -> Request:
    return Request(payload.proposal.id, payload.decision, payload.reason, payload.meaning)


def prepare(project: Project, config: Config, request: Request, now: datetime) -> bytes:
    """The fleet payload to sign for `request`, once it is allowed here now."""
    place = _place(project, config)
    with _alone(project, config):
        log = _Log.read(project, config)
        if not request.reason.strip():
            raise log.refuse(request, "reason", "a decision needs a written reason (--reason)")
        _expected(log, request, now, create=False)  # its proposal, kind and base version
        found = proposals.find(log.events, request.target)
        assert found is not None and log.state.baseline_sha256 is not None
        payload = FleetPayload(
            domain=fleet_payload.DOMAIN,
            decision_id=new_id("DEC", now),
            project=place.project,
            scope=fleet_payload.scope_from(found.record["fleet"]["scope"]),
            decision=cast("fleet_payload.FleetKind", request.kind),
            meaning=request.meaning,
            reason=request.reason.strip(),
            decided_at=iso_utc(now),
            base_sha256=log.state.baseline_sha256,
            proposal=Proposed(
                id=found.proposal_id,
                content_sha256=fleet_payload.content_sha256(found.record),
                baseline_sha256=found.baseline_sha256,
            ),
        )
        return fleet_payload.encode(payload)


def record(
    project: Project, config: Config, data: bytes, signatures: Sequence[str], now: datetime
) -> Published:
    """Check a fleet payload made here and its signatures, publish both with the proposal, and
    apply the decision here as every host of its scope will."""
    from sealguard.fleet import publication
    from sealguard.fleet.database import connect

    place = _place(project, config)
    with _alone(project, config), ledger.one_checkpoint(project.ledger(config)):
        log = _Log.read(project, config)
        claimed = claimed_keys(signatures)
        payload = _decoded(log, data, claimed)
        log.fleet_id = payload.decision_id
        request = _request_of(payload)
        offered = _local_proposal(log, request, payload, claimed)
        signers = _checked(
            log, payload, data, signatures, claimed=claimed, proposal=offered, place=None
        )
        item = PublishedDecision(
            payload.decision_id, payload.proposal.id, data, [s.strip() + "\n" for s in signatures]
        )
        try:
            with connect(place.url, autocommit=True) as conn:
                scope = payload.scope
                publication.publish(conn, offered, item, scope.build, scope.hosts)
        except FleetError as exc:
            raise FleetError(
                f"{exc.message}; {payload.decision_id} was neither published nor journaled: "
                "decide again once the fleet database is reached"
            ) from None
        here = _apply(project, config, place, item, offered=lambda _: offered, now=now)
    return Published(payload, signers, place.url, place.host, here)


def pull(project: Project, config: Config, now: datetime) -> list[Pulled]:
    """`sealguard fleet pull`: take every decision published for this host since the last
    time (FleetError when the database cannot be reached)."""
    place = _place(project, config)
    with _alone(project, config), ledger.one_checkpoint(project.ledger(config)):
        return _pull(project, config, place, now)


def pull_quietly(project: Project, config: Config, now: datetime) -> bool:
    """The pull of an observation (the lock held): a database out of reach is one warning line,
    nothing else. Whether a baseline version was installed (the config in force may differ)."""
    place = project.ledger(config).fleet
    if place is None:
        return False
    from sealguard.fleet.sessions import cut_off

    try:
        pulled = _pull(project, config, place, now)
    except FleetError as exc:
        if cut_off(exc, place.url):  # said once for the whole observation
            return False
        warn(
            f"{exc.message}; decisions published for this host are taken when the fleet "
            "database is reached again"
        )
        return False
    return any(p.decided is not None and p.decided.installed for p in pulled)


def _pull(project: Project, config: Config, place: FleetPlace, now: datetime) -> list[Pulled]:
    from sealguard.fleet import publication
    from sealguard.fleet.sessions import over

    def pull(conn: Any) -> list[Pulled]:
        pulled: list[Pulled] = []
        published = publication.decision_ids(conn, place.project)
        if not published:
            return pulled
        seen = _seen(notable_events(project.ledger(config)))
        offered: Offered = partial(publication.proposal, conn)
        for decision_id in published:
            item = None if decision_id in seen else publication.decision(conn, decision_id)
            if item is not None:
                pulled.append(_apply(project, config, place, item, offered=offered, now=now))
        return pulled

    return over(place.url, pull)


def _seen(events: list[dict[str, Any]]) -> set[str]:
    """The fleet decisions this host journaled already, taken or refused: each is taken once."""
    return {
        str(e["fleet_id"])
        for e in events
        if e.get("type") in (DECISION_EVENT, REFUSED_EVENT) and e.get("fleet_id")
    }


def _apply(
    project: Project,
    config: Config,
    place: FleetPlace,
    item: PublishedDecision,
    *,
    offered: Offered,
    now: datetime,
) -> Pulled:
    log = _Log.read(project, config)
    log.fleet_id = item.decision_id
    try:
        decided = _take(log, place, item, offered, now)
    except RefusedError as exc:
        return Pulled(item.decision_id, None, exc.message)
    return Pulled(item.decision_id, decided)


def _take(
    log: _Log, place: FleetPlace, item: PublishedDecision, offered: Offered, now: datetime
) -> Decided:
    claimed = claimed_keys(item.signatures)
    payload = _decoded(log, item.payload, claimed)
    proposal = offered(payload.proposal.id)
    signers = _checked(
        log, payload, item.payload, item.signatures, claimed=claimed, proposal=proposal,
        place=place,
    )  # fmt: skip
    assert proposal is not None  # _checked refuses a decision without its proposal
    request = _request_of(payload)
    if payload.decision_id != item.decision_id:
        raise log.refuse(
            request,
            "payload",
            f"published as {item.decision_id}, its payload signs {payload.decision_id}",
            claimed,
        )
    found = _materialized(log, proposal)
    leaf = view.leaves(log.project.log_file).leaf(int(found.record["seq"]))
    checkpoint = view.latest_checkpoint(log.ledger)
    expected = _expected(log, request, now, create=False)
    assert leaf is not None
    local = Payload(
        domain=DOMAIN,
        origin=checkpoint.origin,
        decision_id=payload.decision_id,
        decision=payload.decision,
        meaning=payload.meaning,
        reason=payload.reason,
        decided_at=payload.decided_at,
        answers=Answers(id=found.proposal_id, seq=int(found.record["seq"]), leaf_hash=leaf.hex()),
        log=LogView(size=checkpoint.size, root=checkpoint.root.hex()),
        result=expected.result,
        incident=expected.incident,
    )
    signed = {
        "signers": signers,
        "payload_sha256": hashlib.sha256(item.payload).hexdigest(),
        "fleet_id": payload.decision_id,
        "fleet": {
            "payload": fleet_payload.to_builtins(payload),
            "place": {"project": place.project, "host": place.host, "build": place.build},
        },
    }
    return carry_out(log, request, local, signed, claimed)


def _decoded(log: _Log, data: bytes, claimed: list[str]) -> FleetPayload:
    try:
        return fleet_payload.decode(data)
    except ValueError as exc:
        unknown = Request("?", "reseal", "")
        raise log.refuse(
            unknown, "payload", f"not a fleet decision payload: {exc}", claimed
        ) from None


def _not_replayed(log: _Log, request: Request, payload: FleetPayload, claimed: list[str]) -> None:
    if journaled(log.events, payload.decision_id):
        raise log.refuse(
            request, "replayed", f"{payload.decision_id} is already journaled here", claimed
        )


def _local_proposal(
    log: _Log, request: Request, payload: FleetPayload, claimed: list[str]
) -> PublishedProposal:
    """The proposal a fleet decision made here decides, as it is published."""
    found = proposals.find(log.events, payload.proposal.id)
    if found is None or not found.record.get("fleet"):
        raise log.refuse(
            request,
            "unknown",
            f"no fleet proposal {payload.proposal.id} in this log: a fleet decision is made "
            "where its proposal was (the other hosts take it from the fleet database)",
            claimed,
        )
    try:
        return _offered(log.project, _place_of(log), found)
    except RefusedError as exc:
        raise log.refuse(request, "evidence", exc.message, claimed) from None


def _place_of(log: _Log) -> FleetPlace:
    assert log.ledger.fleet is not None  # _place() was asked first
    return log.ledger.fleet


def _offered(project: Project, place: FleetPlace, found: proposals.Proposal) -> PublishedProposal:
    """A proposal of this log as it is published: its files checked against the journal."""
    files = {rel: path.read_bytes() for rel, path in found.files(project).items()}
    try:
        diff = (project.proposal_folder(found.proposal_id) / "diff.txt").read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RefusedError(f"{found.proposal_id}: its diff cannot be read: {exc}") from None
    record = {name: found.record.get(name) for name in fleet_payload.CARRIED}
    content = fleet_payload.content_sha256(record)
    return PublishedProposal(found.proposal_id, place.project, content, record, diff, files)


def publish_quietly(project: Project, config: Config, found: proposals.Proposal) -> bool:
    """Publish a proposal for hosts of the fleet as soon as it is made, for people to read
    there; a failure is one warning line (its decision publishes it anyway)."""
    from sealguard.fleet import publication
    from sealguard.fleet.database import connect

    place = _place(project, config)
    try:
        offered = _offered(project, place, found)
        with connect(place.url, autocommit=True) as conn:
            publication.publish_proposal(conn, offered)
    except (FleetError, RefusedError) as exc:
        warn(f"{exc.message}; {found.proposal_id} is published with its decision")
        return False
    return True


def _checked(
    log: _Log,
    payload: FleetPayload,
    data: bytes,
    signatures: Sequence[str],
    *,
    claimed: list[str],
    proposal: PublishedProposal | None,
    place: FleetPlace | None,
) -> list[dict[str, Any]]:
    """The signers, once everything a host checks holds, in this order: who signed (nothing
    unsigned is read further), where it applies (`place`; None where it is made), the base, the
    proposal, then the number of signers its rule needs."""
    request = _request_of(payload)
    _not_replayed(log, request, payload, claimed)
    signers, authority = signers_in_force(
        log, request, data, signatures, claimed, namespace=NAMESPACE
    )
    if place is not None and (
        why := fleet_payload.not_here(payload, place.project, place.host, place.build)
    ):
        raise log.refuse(request, "scope", why, claimed)
    state = log.state
    if payload.base_sha256 != state.baseline_sha256:
        raise log.refuse(
            request,
            "stale",
            f"it replaces the baseline {payload.base_sha256[:16]}…, but v{state.version} in "
            f"force here is {str(state.baseline_sha256)[:16]}…",
            claimed,
        )
    if why := _evidence_problem(log, payload, proposal):
        raise log.refuse(request, "evidence", why, claimed)
    assert proposal is not None
    if proposal.record.get("kind") != payload.decision:
        raise log.refuse(
            request,
            "kind",
            f"{payload.proposal.id} is a proposal to {proposal.record.get('kind')}, "
            f"not to {payload.decision}",
            claimed,
        )
    if state.mode == "HALTED" and state.incident is None:
        raise log.refuse(request, "halted", f"observation is HALTED ({state.reason})", claimed)
    changes = proposal.record.get("authority") != authority_text(log.events)
    enough_signers(log, request, authority, signers, claimed, changes=changes, where=" here")
    return signers


def _evidence_problem(
    log: _Log, payload: FleetPayload, proposal: PublishedProposal | None
) -> str | None:
    """Why `proposal` is not the one `payload` signs, or None: the database carries it, so
    every field, file and the diff are held to the signed content hash."""
    signed = payload.proposal
    if proposal is None:
        return f"the fleet database holds no proposal {signed.id}"
    record = proposal.record
    if (
        fleet_payload.content_sha256(record) != signed.content_sha256
        or record.get("proposal_id") != signed.id
        or record.get("baseline_sha256") != signed.baseline_sha256
    ):
        return f"{signed.id} as the fleet database holds it is not the proposal signed for"
    files = record.get("files")
    if not isinstance(files, dict) or set(files) != set(proposal.files):
        return f"the files of {signed.id} are not those its signed record lists"
    if files.get(BASELINE_NAME) != signed.baseline_sha256:
        return f"the manifest of {signed.id} is not the baseline signed for"
    for rel, content in sorted(proposal.files.items()):
        path = PurePosixPath(rel)
        if path.is_absolute() or ".." in path.parts:
            return f"{signed.id} holds a file outside its folder: {rel}"
        if hashlib.sha256(content).hexdigest() != files[rel]:
            return f"{rel} of {signed.id} is not the file its signed record lists"
    diff = (record.get("fleet") or {}).get("diff_sha256")
    if hashlib.sha256(proposal.diff.encode()).hexdigest() != diff:
        return f"the diff of {signed.id} is not the one its signers read"
    held = proposals.find(log.events, signed.id)
    if held is not None and fleet_payload.content_sha256(held.record) != signed.content_sha256:
        return f"this log holds another proposal {signed.id}"
    return None


def _materialized(log: _Log, proposal: PublishedProposal) -> proposals.Proposal:
    """The proposal in this log: journaled here from the database's copy (checked) unless it
    was made here; its answers and base version are this host's own."""
    found = proposals.find(log.events, proposal.proposal_id)
    if found is not None:
        return found
    kept = {"proposal_id", "baseline_sha256", "files"}  # journal() records them from the files
    fields = {name: proposal.record.get(name) for name in fleet_payload.CARRIED if name not in kept}
    fields["answers"] = log.state.incident.incident_id if log.state.incident else None
    fields["base_version"] = log.state.version
    files: dict[str, bytes | Path] = dict(proposal.files)
    made = proposals.journal(
        log.project, log.ledger, proposal.proposal_id, files=files, fields=fields,
        diff=proposal.diff,
    )  # fmt: skip
    log.events.append(made.record)
    return made
