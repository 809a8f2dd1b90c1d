"""What Architects sign once for many hosts: a fleet decision's canonical payload. Pure.

A proposal made with `propose --hosts H1,H2` or `--build NAME` is decided once, published to
the fleet database, and journaled by every host where it applies (decide/fleet_decisions.py).
A host's own decision payload (payload.py) binds that host's log: its origin, the record
answered by its `seq` and leaf hash, the size and root its signers saw. None of those exist on
another host, so a fleet payload binds instead what makes the decision safe on every host it
applies to, and nothing of one host:

- `project`: the fleet's name of the governed project; a host of another project refuses it.
- `scope`: where the proposal says it applies, the hosts by name or every host of a build; a
  host outside it refuses it (its name and build are its own, its build from its sealed config).
- `base_sha256`: the SHA-256 of the baseline it replaces; a host whose baseline in force is
  another one refuses it (it was not signed for that build). Not the version number: hosts
  number their versions themselves (one may have rolled back), the digest is what they share.
- `proposal`: the proposal's id, its `content_sha256` (every field a host journals from it: the
  kind, each baseline file's hash, the AUTHORITY.toml it puts in force, the hash of the diff the
  signers read, the scope) and the SHA-256 of the baseline it installs; a host checks the files
  it fetches from the database against it, so the database cannot change what is installed.
- `decision_id`: one DEC_ id for the fleet; a host journals it once, so a decision cannot be
  replayed on a host (after a rollback to the base, say), nor published twice under two ids.
- the decision (`reseal` or `amend`), the meaning of the signatures, the written reason and the
  UTC time: what the signers mean (21 CFR Part 11 §11.50), as in a host's own decision.

It is RFC 8785 canonical JSON under its own domain tag, signed in SSHSIG under its own namespace
`sealguard-fleet-decision`: a host's decision signature never counts for the fleet, nor the
other way round, even by the same key.
"""

import hashlib
from typing import Any, Literal

import msgspec
import rfc8785

from sealguard.decide.payload import Meaning

DOMAIN = "sealguard-fleet-decision/1"
NAMESPACE = "sealguard-fleet-decision"
CONTENT_DOMAIN = "sealguard-fleet-proposal/1"
FleetKind = Literal["reseal", "amend"]
# the fields of a proposal_made record every host journals alike (not its answers, base
# version or folder, which are each host's own): what `content_sha256` covers
CARRIED = (
    "proposal_id", "kind", "reason", "made_at", "source", "summary", "config_sha256",
    "authority", "baseline_sha256", "files", "fleet",
)  # fmt: skip


class Scope(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where a proposal applies: every host of a build, or the hosts named (sorted, once)."""

    build: str | None = None
    hosts: list[str] | None = None


class Proposed(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str  # PRO_…, as the host that made it journaled it
    content_sha256: str  # `content_sha256` of its record
    baseline_sha256: str  # the baseline it installs


class FleetPayload(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    domain: str
    decision_id: str  # DEC_…, the same on every host
    project: str
    scope: Scope
    decision: FleetKind
    meaning: Meaning
    reason: str
    decided_at: str  # UTC, ISO 8601, when the payload was made
    base_sha256: str  # the baseline in force it replaces
    proposal: Proposed


def scope_of(hosts: list[str] | None, build: str | None) -> Scope:
    """The canonical scope: the hosts sorted and each once."""
    return Scope(build=build, hosts=sorted(set(hosts)) if hosts is not None else None)


def scope_from(data: Any) -> Scope:
    """A scope as a proposal record holds it."""
    return msgspec.convert(data, Scope)


def scope_problem(scope: Scope) -> str | None:
    """Why `scope` names no place, or None."""
    if (scope.build is None) == (scope.hosts is None):
        return "a scope names either hosts or a build"
    names = scope.hosts if scope.hosts is not None else [scope.build or ""]
    if not names or any(not n.strip() or any(ord(c) < 32 for c in n) for n in names):
        return "a scope's names are non-empty, on one line"
    if scope.hosts is not None and scope.hosts != sorted(set(scope.hosts)):
        return "a scope's hosts are sorted, each once"
    return None


def describe(scope: Scope) -> str:
    if scope.hosts is not None:
        return f"host{'s' if len(scope.hosts) > 1 else ''} {', '.join(scope.hosts)}"
    return f"every host of build {scope.build}"


def not_here(payload: FleetPayload, project: str, host: str, build: str | None) -> str | None:
    """Why the decision does not apply on this host (its project, name and build), or None."""
    if payload.project != project:
        return f"it is for project {payload.project}; this host runs {project}"
    scope = payload.scope
    if scope.build is not None and scope.build != build:
        runs = f"build {build}" if build else "no named build ([ledger] build)"
        return f"it is for {describe(scope)}; this host ({host}) runs {runs}"
    if scope.hosts is not None and host not in scope.hosts:
        return f"it is for {describe(scope)}; this host is {host}"
    return None


def content_sha256(record: dict[str, Any]) -> str:
    """The hash a fleet decision signs for its proposal: the fields every host journals."""
    carried = {"domain": CONTENT_DOMAIN, **{name: record.get(name) for name in CARRIED}}
    return hashlib.sha256(rfc8785.dumps(carried)).hexdigest()


def encode(payload: FleetPayload) -> bytes:
    """The exact bytes signed: canonical JSON (RFC 8785) with a final newline, as a file."""
    return rfc8785.dumps(msgspec.to_builtins(payload)) + b"\n"


def _checked(payload: FleetPayload) -> FleetPayload:
    if payload.domain != DOMAIN:
        raise ValueError(f'its domain is "{payload.domain}", not "{DOMAIN}"')
    if problem := scope_problem(payload.scope):
        raise ValueError(problem)
    return payload


def decode(data: bytes) -> FleetPayload:
    """A payload read back (from the database, or a file given to `--payload`); ValueError when
    it is not one, or not in its canonical form (then it is not what was signed)."""
    try:
        payload = msgspec.json.decode(data, type=FleetPayload)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None
    if encode(payload) != data:
        raise ValueError("not in its canonical form (RFC 8785, one final newline)")
    return _checked(payload)


def is_fleet_payload(data: bytes) -> bool:
    """Whether `data` says it is a fleet decision's payload (checked in full by `decode`)."""
    try:
        return bool(msgspec.json.decode(data, type=dict[str, Any]).get("domain") == DOMAIN)
    except msgspec.DecodeError:
        return False


def from_builtins(data: Any) -> FleetPayload:
    """The payload a journaled fleet decision holds (ValueError when it holds none)."""
    try:
        return _checked(msgspec.convert(data, FleetPayload))
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None


def to_builtins(payload: FleetPayload) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(payload)
    return data
