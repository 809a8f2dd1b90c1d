"""The command line: parse, call one library function, render what it returns."""

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from sealguard import __version__, narrative, output, render
from sealguard.error_handler import guarded
from sealguard.exitcodes import ExitCode
from sealguard.hashing import default_jobs
from sealguard.progress import progress_bar
from sealguard.project import Project, find_project

if TYPE_CHECKING:
    from sealguard.ledger import Ledger


class SealguardGroup(click.Group):
    """A group whose every exit code comes from the one error boundary."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:  # fmt: skip
        def body() -> int | None:
            code: int | None = super(SealguardGroup, self).main(
                args, prog_name or "sealguard", complete_var, standalone_mode=False, **extra
            )
            return code

        code = guarded(body)
        if standalone_mode:
            sys.exit(code)
        return code


def _project(ctx: click.Context) -> Project:
    return find_project(Path.cwd(), ctx.obj["project"])


jobs_option = click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None,
    help="Processes that hash files (default: one per CPU core).",
)  # fmt: skip


@click.group(
    name="sealguard", cls=SealguardGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="sealguard")
@click.option(
    "--project",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The governed project's root "
    "(default: the nearest parent holding governance/sealguard.toml).",
)
@click.pass_context
def cli(ctx: click.Context, project: Path | None) -> None:
    """Runtime governance of a sealed build: observe, journal, escalate, wait for a human."""
    ctx.obj = {"project": project}


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> int:
    """Write a commented starter governance/sealguard.toml (never overwrites one)."""
    from sealguard.starter import init as write_starter

    project = Project((ctx.obj["project"] or Path.cwd()).resolve())
    count = write_starter(project)
    output.write(
        f"wrote {project.display(project.config_file)}: its globs seal {count:,} files today"
    )
    output.write("review it, then run `sealguard seal`")
    return 0


@cli.command()
@jobs_option
@click.pass_context
def seal(ctx: click.Context, jobs: int | None) -> int:
    """Hash every sealed file into governance/BASELINE_REF.sha256 and journal it (once)."""
    from sealguard.config import load_config
    from sealguard.seal import seal as seal_build

    project = _project(ctx)
    config = load_config(project.config_file)
    started = time.perf_counter()
    report = seal_build(project, config, jobs or default_jobs())
    elapsed = time.perf_counter() - started
    output.write(render.seal_text(report, project.display(project.baseline_file), elapsed))
    return 0


@cli.command()
@jobs_option
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON report.")
@click.pass_context
def verify(ctx: click.Context, jobs: int | None, as_json: bool) -> int:
    """Check that the baseline and every sealed file are exactly as sealed (INV-D-01, INV-D-02)."""
    from sealguard.config import load_config
    from sealguard.verify import verify as verify_build

    project = _project(ctx)
    config = load_config(project.config_file)
    started = time.perf_counter()
    with progress_bar("verifying") as start_progress:
        report = verify_build(project, config, jobs or default_jobs(), start_progress)
    elapsed = time.perf_counter() - started
    if as_json:
        output.write_json(render.verify_json(report, elapsed))
    else:
        output.write(render.verify_text(report, elapsed))
    return int(render.verify_exit_code(report))


@cli.command()
@click.option(
    "--keep",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Run the demo in this new folder and keep it, instead of a temporary one.",
)
def demo(keep: Path | None) -> int:
    """Seal the embedded sample product, verify it, tamper with it, and show the INCIDENT."""
    from sealguard.demo import run_demo

    return run_demo(keep)


@cli.command()
@jobs_option
@click.option("--json", "as_json", is_flag=True, help="Print the RUNTIME_EVENT as JSON.")
@click.pass_context
def observe(ctx: click.Context, jobs: int | None, as_json: bool) -> int:
    """Observe once: invariants, every probe once, classify, keep evidence, journal, act."""
    from sealguard.config import load_config
    from sealguard.events import to_data
    from sealguard.observe import observe as observe_once

    project = _project(ctx)
    observation = observe_once(project, load_config(project.config_file), jobs or default_jobs())
    if as_json:
        output.write_json(to_data(observation.event))
    else:
        output.write(narrative.observation_text(observation.event))
        if observation.escalation_id:
            output.write(f"escalated as {observation.escalation_id}")
        if observation.attempts:
            output.write(narrative.attempts_text(list(observation.attempts)))
    return observation.exit_code


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> int:
    """The state of observation (OBSERVING, FROZEN, HALTED): since when, why, recent events."""
    from sealguard.config import load_config
    from sealguard.escalation import outbox
    from sealguard.ledger import read_events
    from sealguard.state import fold

    project = _project(ctx)
    ledger_ = project.ledger(load_config(project.config_file))
    events = read_events(ledger_.log) if ledger_.log.exists() else []
    state = fold(events)
    now = _utc_now().replace(tzinfo=None)
    open_ones = [e for e in outbox.fold(events).values() if e.open]
    if as_json:
        output.write_json(
            {
                **narrative.status_json(state),
                "open_escalations": narrative.escalations_json(open_ones, now),
            }
        )
    else:
        output.write(narrative.status_text(state))
        if open_ones:
            output.write(
                "open escalations:\n" + "\n".join(narrative.escalation_rows(open_ones, now))
            )
    return 0


def _find_event(ctx: click.Context, event_id: str) -> "dict[str, Any]":
    from sealguard.config import load_config
    from sealguard.errors import UsageError
    from sealguard.ledger import read_events

    project = _project(ctx)
    ledger_ = project.ledger(load_config(project.config_file))
    for event in read_events(ledger_.log) if ledger_.log.exists() else []:
        if event.get("type") == "runtime_event" and event.get("event_id") == event_id:
            return event
    raise UsageError(
        f"no observation {event_id} in the governance log "
        "(see `sealguard log show --type runtime_event`)"
    )


@cli.command()
@click.argument("event_id")
@click.option("--json", "as_json", is_flag=True, help="Print the event as JSON.")
@click.pass_context
def show(ctx: click.Context, event_id: str, as_json: bool) -> int:
    """Show one observation's RUNTIME_EVENT."""
    event = _find_event(ctx, event_id)
    if as_json:
        output.write_json(event)
    else:
        output.write(narrative.observation_text(event))
    return 0


@cli.command()
@click.argument("event_id")
@click.pass_context
def diff(ctx: click.Context, event_id: str) -> int:
    """An observation's diff with the baseline: test status changes, then the outputs' diff."""
    event = _find_event(ctx, event_id)
    project = _project(ctx)
    output.write(narrative.diff_text(project.root, event))
    return 0


@cli.command()
@click.argument("event_id")
@click.pass_context
def diagnose(ctx: click.Context, event_id: str) -> int:
    """The runbook's checklist answered for one observation, and its path through the rules."""
    from sealguard.config import load_config
    from sealguard.ledger import audit

    event = _find_event(ctx, event_id)
    project = _project(ctx)
    log_report = audit(project.ledger(load_config(project.config_file)), default_jobs())
    output.write(narrative.diagnosis_text(project.root, event, log_report))
    return 0


@cli.command()
@click.option("--every", "every", required=True, help="Time between observations, e.g. 10m, 1h.")
@jobs_option
@click.option(
    "--count", type=click.IntRange(min=1), default=None, help="Stop after this many observations."
)
@click.pass_context
def watch(ctx: click.Context, every: str, jobs: int | None, count: int | None) -> int:
    """Observe on a schedule until FROZEN or HALTED, then keep reporting the state."""
    from sealguard.config import load_config
    from sealguard.durations import parse_duration
    from sealguard.watch import watch as watch_loop

    try:
        interval = parse_duration(every)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--every") from None
    project = _project(ctx)
    return watch_loop(
        project, load_config(project.config_file), interval, jobs or default_jobs(), count
    )


@cli.command()
@click.argument("name", type=click.Choice(["event"]))
def schema(name: str) -> int:
    """Print a JSON Schema that ships with sealguard (event: the RUNTIME_EVENT)."""
    from importlib import resources

    output.write(
        (resources.files("sealguard") / "schemas" / f"{name}.schema.json")
        .read_text(encoding="utf-8")
        .rstrip()
    )
    return 0


def _utc_now() -> datetime:
    return datetime.now(UTC)


@cli.group(invoke_without_command=True)
@click.option("--pending", is_flag=True, help="Only escalations not yet delivered or acknowledged.")
@click.option("--overdue", is_flag=True, help="Only open escalations past their deadline.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
@click.pass_context
def escalations(ctx: click.Context, pending: bool, overdue: bool, as_json: bool) -> int:
    """List escalations (the outbox) with their deliveries and time left."""
    if ctx.invoked_subcommand is not None:
        return 0
    from sealguard.config import load_config
    from sealguard.escalation.dispatch import escalations as fold_escalations

    project = _project(ctx)
    now = _utc_now().replace(tzinfo=None)
    found = list(fold_escalations(project, load_config(project.config_file)).values())
    if pending or overdue:
        found = [e for e in found if e.open]
    if overdue:
        found = [e for e in found if now >= e.deadline_at]
    if as_json:
        output.write_json(narrative.escalations_json(found, now))
    else:
        output.write("\n".join(narrative.escalation_rows(found, now)) or "no escalation")
    return 0


@escalations.command("deliver")
@click.pass_context
def escalations_deliver(ctx: click.Context) -> int:
    """Attempt every delivery that is due now (and mark what is overdue)."""
    from sealguard.config import load_config
    from sealguard.escalation.dispatch import deliver_due

    project = _project(ctx.parent or ctx)
    attempts = deliver_due(project, load_config(project.config_file), _utc_now())
    output.write(narrative.attempts_text(attempts) or "nothing is due")
    return 0


@escalations.command("test")
@click.argument("channel", type=click.Choice(["email", "slack", "pagerduty", "webhook"]))
@click.pass_context
def escalations_test(ctx: click.Context, channel: str) -> int:
    """Send a clearly marked test message through one channel; exit 0 if it was delivered."""
    from sealguard.config import load_config
    from sealguard.escalation.dispatch import test_channel

    project = _project(ctx.parent or ctx)
    result = test_channel(project, load_config(project.config_file), channel, _utc_now())
    output.write(f"test via {channel}: {result.outcome} ({result.detail})")
    return int(ExitCode.OK if result.outcome == "delivered" else ExitCode.UNAVAILABLE)


@cli.command()
@click.argument("escalation_id")
@click.option("--by", required=True, help="Who acknowledges (a person's name).")
@click.option("--note", default="", help="What they will do.")
@click.pass_context
def ack(ctx: click.Context, escalation_id: str, by: str, note: str) -> int:
    """Acknowledge an escalation: it stops being retried or handed on; journaled."""
    from sealguard.config import load_config
    from sealguard.escalation.dispatch import acknowledge

    project = _project(ctx)
    event = acknowledge(project, load_config(project.config_file), escalation_id, by, note)
    output.write(f"acknowledged {escalation_id} by {by} (journaled as seq {event['seq']})")
    return 0


def _ledger(ctx: click.Context, folder: Path | None = None) -> "Ledger":
    from sealguard.config import load_config
    from sealguard.ledger import Ledger

    if folder is not None:
        return Ledger.in_folder(folder.resolve())
    project = _project(ctx)
    return project.ledger(load_config(project.config_file))


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2026-11-26T18:00:00Z"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@cli.group()
def log() -> None:
    """The governance log: verify it, read it, prove an event is in it, export it."""


@log.command("verify")
@jobs_option
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON report.")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Verify a copied or exported log folder instead of the project's.",
)
@click.pass_context
def log_verify(ctx: click.Context, jobs: int | None, as_json: bool, folder: Path | None) -> int:
    """Recompute the log's tree and hold it against every checkpoint (INV-D-03)."""
    from sealguard.errors import UsageError
    from sealguard.ledger import audit

    ledger_ = _ledger(ctx, folder)
    if not ledger_.log.exists() and not ledger_.checkpoint.exists():
        raise UsageError(f"{ledger_.log}: no governance log yet; `sealguard seal` starts it")
    report = audit(ledger_, jobs or default_jobs())
    output.write_json(render.log_json(report)) if as_json else output.write(render.log_text(report))
    return int(render.log_exit_code(report))


@log.command("show")
@click.option("--since", callback=_since, help="Only events at or after this UTC time (ISO 8601).")
@click.option("--type", "event_type", help="Only events of this type (e.g. baseline_sealed).")
@click.option("--json", "as_json", is_flag=True, help="Print the events as a JSON array.")
@click.pass_context
def log_show(
    ctx: click.Context, since: datetime | None, event_type: str | None, as_json: bool
) -> int:
    """Print the log's events, one per line (or as JSON)."""
    from sealguard.ledger import read_events
    from sealguard.ledger.reader import select

    ledger_ = _ledger(ctx)
    events = select(read_events(ledger_.log) if ledger_.log.exists() else [], since, event_type)
    if as_json:
        output.write_json(events)
    else:
        for event in events:
            output.write(render.event_line(event))
    return 0


@log.command("prove")
@click.argument("seq", type=click.IntRange(min=0))
@click.option(
    "-o",
    "--output",
    "target",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the bundle here.",
)
@click.pass_context
def log_prove(ctx: click.Context, seq: int, target: Path | None) -> int:
    """Print an inclusion proof of event SEQ against the latest checkpoint (RFC 9162)."""
    import json

    from sealguard.ledger.proof import prove

    bundle = prove(_ledger(ctx), seq)
    if target is None:
        output.write_json(bundle)
    else:
        target.write_text(json.dumps(bundle, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        output.write(f"wrote the inclusion proof of seq {seq} to {target}")
    return 0


@log.command("check-proof")
@click.argument("bundle", type=click.File("rb"), default="-")
@click.option(
    "--key", help="The log's verifier key (name+keyid+base64), obtained from a source you trust."
)
def log_check_proof(bundle: IO[bytes], key: str | None) -> int:
    """Check an inclusion proof offline (from a file, or - for stdin); exit 0 valid, 3 not."""
    import json

    from sealguard.errors import DataError
    from sealguard.ledger.proof import check_proof

    try:
        data = json.loads(bundle.read())
    except ValueError as exc:
        raise DataError(f"{bundle.name}: not a JSON proof bundle ({exc})") from None
    check = check_proof(data, key)
    output.write(render.proof_text(check))
    return 0 if check.valid else 3


@log.command("export")
@click.option(
    "-o", "--output", "target", required=True, type=click.Path(path_type=Path, dir_okay=False),
    help="The .tar.gz file to write.",
)  # fmt: skip
@click.pass_context
def log_export(ctx: click.Context, target: Path) -> int:
    """Write the log, every checkpoint, the public key and an auditor's README to a .tar.gz."""
    from sealguard.ledger.export import export

    names = export(_ledger(ctx), target)
    output.write(f"wrote {target}: {', '.join(names)}")
    return 0


def main() -> None:
    cli.main()
