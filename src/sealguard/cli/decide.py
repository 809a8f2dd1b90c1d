"""Commands of the decide stage: propose, decide, certify, incident."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from sealguard import output
from sealguard.cli.root import cli, configured, jobs_option, sealed, utc_now
from sealguard.cpus import default_jobs

if TYPE_CHECKING:
    from sealguard.decide.authority import DecisionKind
    from sealguard.decide.decisions import Decided, Request
    from sealguard.decide.payload import Meaning

KINDS = ("accept", "investigate", "rollback", "reseal", "amend")
MEANINGS = ("approval", "review", "responsibility")
DEFAULT_MEANING = {"investigate": "responsibility"}  # who takes the investigation on
F = TypeVar("F", bound=Callable[..., Any])
PASSPHRASE_VARIABLE = "SEALGUARD_KEY_PASSPHRASE"


def _version(text: str | None) -> int | None:
    from sealguard.errors import UsageError

    if text is None:
        return None
    digits = text.removeprefix("v")
    if not digits.isdigit():
        raise UsageError(f'--to "{text}": name a baseline version as vN (for example v1)')
    return int(digits)


def _sign(
    payload: bytes, keys: tuple[Path, ...], agent: bool, namespace: str = "sealguard-decision"
) -> list[str]:
    """Signatures by each --key file (a passphrase from SEALGUARD_KEY_PASSPHRASE or asked for)
    and, with --agent, by each ed25519 key the ssh-agent holds, under `namespace`."""
    from sealguard.decide import keys as keyfiles
    from sealguard.decide import sshsig
    from sealguard.decide.agent import Agent, agent_socket

    signatures = []
    for path in keys:
        try:
            private = keyfiles.load_private_key(path, os.environ.get(PASSPHRASE_VARIABLE))
        except keyfiles.SshKeyError as exc:
            if "passphrase" not in exc.message or os.environ.get(PASSPHRASE_VARIABLE):
                raise
            secret = click.prompt(f"passphrase for {path}", hide_input=True, err=True)
            private = keyfiles.load_private_key(path, secret)
        signatures.append(sshsig.sign(payload, private, namespace))
    if agent:
        held = Agent(agent_socket())
        for key in held.keys():  # noqa: SIM118 (an agent, not a dict)
            signatures.append(sshsig.sign_with_agent(payload, key, namespace, held))
    return signatures


_EXISTING = click.Path(path_type=Path, dir_okay=False, exists=True)
_REASON = click.option("--reason", default="", help="The written reason (required).")
_MEANING = click.option(
    "--meaning", type=click.Choice(MEANINGS), default=None,
    help="What the signature means (21 CFR Part 11 §11.50); default: responsibility for "
    "investigate, approval otherwise.",
)  # fmt: skip


def _how_signed(namespace: str) -> tuple[Callable[[F], F], ...]:
    return (
        click.option(
            "--key", "keys", multiple=True, type=_EXISTING,
            help="An OpenSSH ed25519 private key to sign with (repeat for several signers).",
        ),
        click.option("--agent", is_flag=True, help="Sign with the keys the ssh-agent holds."),
        click.option(
            "--payload-only", is_flag=True, help="Print the payload to sign elsewhere; stop."
        ),
        click.option(
            "--payload", "payload_file", type=_EXISTING, default=None,
            help="A payload made by --payload-only, to attach signatures to.",
        ),
        click.option(
            "--signature", "signature_files", multiple=True, type=_EXISTING,
            help=f"A signature made elsewhere (ssh-keygen -Y sign -n {namespace}).",
        ),
    )  # fmt: skip


def _apply(command: F, options: tuple[Callable[[F], F], ...]) -> F:
    for option in reversed(options):
        command = option(command)
    return command


def signing_options(command: F) -> F:
    """The options every signed decision takes: the reason, the meaning, and how it is signed."""
    return _apply(command, (_REASON, _MEANING, *_how_signed("sealguard-decision")))


def review_signing_options(command: F) -> F:
    """A review's: the reason and how it is signed; its meaning is always `review`."""
    return _apply(command, (_REASON, *_how_signed("sealguard-review")))


def _same_target(target: str, payload_file: Path) -> None:
    """TARGET must be what the attached payload answers: never sign one thing, name another."""
    from sealguard.decide import fleet_payload
    from sealguard.decide.payload import decode
    from sealguard.errors import UsageError

    try:
        data = payload_file.read_bytes()
        fleet = fleet_payload.is_fleet_payload(data)
        answered = fleet_payload.decode(data).proposal.id if fleet else decode(data).answers.id
    except (OSError, ValueError):
        return  # an unreadable payload is refused, and journaled, by the decision itself
    if answered != target:
        raise UsageError(f"{payload_file} answers {answered}, not {target}; name {answered}")


def _carry(
    ctx: click.Context, request: "Request | None", *, payload_file: Path | None,
    payload_only: bool, signature_files: tuple[Path, ...], keys: tuple[Path, ...], agent: bool,
) -> int:  # fmt: skip
    """Make the payload (or read one made earlier), print it and stop, or sign it (with keys
    here, and signatures made elsewhere), then record the decision."""
    from sealguard.decide import decisions, fleet_decisions, fleet_payload
    from sealguard.report import narrative

    project, config = sealed(ctx)
    now = utc_now()
    if payload_file is not None:
        data = payload_file.read_bytes()
        fleet = fleet_payload.is_fleet_payload(data)
    else:
        assert request is not None
        fleet = fleet_decisions.is_fleet_proposal(project, request)  # signed once, for many hosts
        data = (fleet_decisions if fleet else decisions).prepare(project, config, request, now)
        if payload_only:
            output.write_bytes(data)
            return 0
    namespace = fleet_payload.NAMESPACE if fleet else "sealguard-decision"
    signatures = decisions.read_signatures(signature_files) + _sign(data, keys, agent, namespace)
    if fleet:
        output.write(fleet_decisions.record(project, config, data, signatures, now).text())
        return 0
    decided: Decided = decisions.record(project, config, data, signatures, now)
    output.write(narrative.decision_text(decided.record, decided.installed, decided.state))
    return 0


@cli.command()
@click.argument("target")
@click.argument("decision", type=click.Choice(KINDS), required=False)
@click.option("--to", "to_version", default=None, help="rollback: the version to return to (vN).")
@signing_options
@click.pass_context
def decide(
    ctx: click.Context, target: str, decision: str | None, *, reason: str, meaning: str | None,
    to_version: str | None, keys: tuple[Path, ...], agent: bool, payload_only: bool,
    payload_file: Path | None, signature_files: tuple[Path, ...],
) -> int:  # fmt: skip
    """A signed Architect decision on TARGET (the event that stopped observation, or a
    proposal): accept, investigate, rollback --to vN, reseal or amend."""
    from sealguard.decide.decisions import Request
    from sealguard.errors import UsageError

    request = None
    if payload_file is not None:
        options = {"DECISION": decision, "--reason": reason, "--to": to_version,
                   "--meaning": meaning}  # fmt: skip
        given = [name for name, value in options.items() if value]
        if given:
            raise UsageError(
                f"--payload carries its own decision, reason and meaning; drop {', '.join(given)}"
            )
        _same_target(target, payload_file)
    else:
        if decision is None:
            raise UsageError("name the decision: accept, investigate, rollback, reseal or amend")
        kind = cast("DecisionKind", decision)
        request = Request(
            target, kind, reason, cast("Meaning", meaning or DEFAULT_MEANING.get(kind, "approval")),
            _version(to_version),
        )  # fmt: skip
    return _carry(
        ctx,
        request,
        payload_file=payload_file,
        payload_only=payload_only,
        signature_files=signature_files,
        keys=keys,
        agent=agent,
    )


@cli.command()
@jobs_option
@click.option(
    "--from", "source", type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None, help="A staging copy of the new build (default: the project as it is now).",
)  # fmt: skip
@click.option("--reason", default="", help="Why this change is proposed.")
@click.option(
    "--hosts", default=None, metavar="H1,H2",
    help="For these hosts of the fleet (their [ledger] host names): decided once, taken by each.",
)  # fmt: skip
@click.option(
    "--build", default=None, metavar="NAME",
    help="For every host of the fleet whose [ledger] build is NAME: decided once, taken by each.",
)  # fmt: skip
@click.pass_context
def propose(
    ctx: click.Context, jobs: int | None, source: Path | None, reason: str, *,
    hosts: str | None, build: str | None,
) -> int:  # fmt: skip
    """Propose a new baseline version: hash the build, run every probe once on it, write the
    proposal and its diff against the baseline in force. Nothing changes until a decision.
    With --hosts or --build, a proposal for hosts of the fleet (README: Decisions for many
    hosts)."""
    from sealguard.cli.fleet_decide import announce, fleet_scope
    from sealguard.decide import proposals
    from sealguard.errors import RefusedError
    from sealguard.lock import observer_lock
    from sealguard.observe.status import current_state

    project, config = sealed(ctx)
    ledger_ = project.ledger(config)
    scope = fleet_scope(ledger_, hosts, build)
    state = current_state(project, ledger_)
    if state.mode == "UNSEALED":
        raise RefusedError("nothing is sealed here: run `sealguard seal` first")
    with observer_lock(ledger_.folder, wait=False):
        made = proposals.propose_reseal(
            project, ledger_, state, source, jobs=jobs or default_jobs(), now=utc_now(),
            reason=reason, scope=scope,
        )  # fmt: skip
    folder = project.root / made.record["folder"]
    output.write(
        f"{made.proposal_id}: a proposal to {made.kind} (v{state.version} in force), "
        f"baseline sha256 {made.baseline_sha256[:16]}…\n"
        + (folder / "diff.txt").read_text("utf-8", "replace")
        + f"\nnext: sealguard decide {made.proposal_id} {made.kind} --reason … --key …"
    )
    if scope is not None:
        announce(project, config, made)
    return 0


@cli.command()
@jobs_option
@click.option("--json", "as_json", is_flag=True, help="Print the RUNTIME_EVENT as JSON.")
@click.pass_context
def certify(ctx: click.Context, jobs: int | None, as_json: bool) -> int:
    """The certification run after a rollback or re-seal decision: one full observation that
    must come out STABLE against the decided baseline; then observation resumes (or, after an
    incident, the incident may be closed)."""
    from sealguard.observe.observation import observe as observe_once
    from sealguard.report.reporters import reporter

    project, config = configured(ctx)
    observation = observe_once(
        project, config, jobs or default_jobs(), purpose="certification", wait=True
    )
    output.write(reporter(as_json).observation(observation))
    return observation.exit_code


@cli.group()
def incident() -> None:
    """Incidents: list, show, close (a signed close-incident decision)."""


@incident.command("list")
@click.pass_context
def incident_list(ctx: click.Context) -> int:
    """Every incident: open or closed, the event that opened it, its report, what is unwritten."""
    from sealguard import ledger
    from sealguard.decide.incidents import incidents

    project, _ = sealed(ctx)
    found = incidents(ledger.read_events(project.log_file)) if project.log_file.is_file() else []
    for item in found:
        missing = item.missing(project.root)
        todo = f"; to write: {', '.join(missing)}" if missing and not item.closed_by else ""
        output.write(
            f"{item.incident_id}  {item.status:6}  opened {item.opened_at} by {item.event_id}  "
            f"{item.report}{todo}"
        )
    if not found:
        output.write("no incident")
    return 0


@incident.command("show")
@click.argument("incident_id")
@click.pass_context
def incident_show(ctx: click.Context, incident_id: str) -> int:
    """One incident: its report, the sections still to write, and every decision on it."""
    from sealguard import ledger
    from sealguard.decide.incidents import incidents
    from sealguard.errors import UsageError
    from sealguard.report import narrative

    project, _ = sealed(ctx)
    found = {i.incident_id: i for i in incidents(ledger.read_events(project.log_file))}
    item = found.get(incident_id)
    if item is None:
        raise UsageError(f"no incident {incident_id} (see `sealguard incident list`)")
    output.write(narrative.incident_text(item, item.missing(project.root)))
    return 0


@incident.command("close")
@click.argument("incident_id")
@signing_options
@click.pass_context
def incident_close(
    ctx: click.Context, incident_id: str, *, reason: str, meaning: str | None,
    keys: tuple[Path, ...], agent: bool, payload_only: bool, payload_file: Path | None,
    signature_files: tuple[Path, ...],
) -> int:  # fmt: skip
    """Close an incident: every section of its report written, a re-seal or rollback decided,
    a STABLE certification since; a signed close-incident decision binds the report's hash."""
    from sealguard.decide.decisions import Request

    request = Request(incident_id, "close-incident", reason, cast("Meaning", meaning or "approval"))
    return _carry(
        ctx,
        request,
        payload_file=payload_file,
        payload_only=payload_only,
        signature_files=signature_files,
        keys=keys,
        agent=agent,
    )


@cli.command()
@click.option(
    "--diff", nargs=2, metavar="vA vB", default=None,
    help="The line diff of two versions' BASELINE_REF.sha256.",
)  # fmt: skip
@click.pass_context
def versions(ctx: click.Context, diff: tuple[str, str] | None) -> int:
    """The baseline versions: when each was put in force, by which decision and who signed it;
    with --diff, what differs between two of them."""
    import difflib

    from sealguard import ledger
    from sealguard.observe.status import current_state
    from sealguard.report.render import decision_line
    from sealguard.seal import versions as kept

    project, config = sealed(ctx)
    events = ledger.read_events(project.log_file) if project.log_file.is_file() else []
    state = current_state(project, project.ledger(config))
    if diff is not None:
        a, b = (_version(v) or 0 for v in diff)
        old, new = (kept.manifest_text(project, v, state.versions).splitlines() for v in (a, b))
        lines = difflib.unified_diff(
            old, new, f"v{a}/BASELINE_REF.sha256", f"v{b}/BASELINE_REF.sha256", lineterm=""
        )
        output.write("\n".join(lines) or f"v{a} and v{b} are identical")
        return 0
    decisions = {e.get("decision_id"): e for e in events if e.get("type") == "decision"}
    installed = kept.history(events)
    for number, item in enumerate(installed, start=1):
        record = decisions.get(item.decision)
        how = (
            f"by {decision_line(record)}" if record
            else f"by {item.decision}, which is no decision of this log (see `sealguard verify`)"
            if item.decision else "sealed"
        )  # fmt: skip
        now = " (in force)" if number == len(installed) else ""
        output.write(f"v{item.version}{now}  {item.ts}  sha256 {item.sha256[:16]}…  {how}")
    return 0
