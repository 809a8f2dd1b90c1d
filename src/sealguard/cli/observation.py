"""Commands about observations: observe, status, show, diff, diagnose, watch, schema."""

from typing import TYPE_CHECKING, Any

import click

from sealguard import output
from sealguard.cli.root import cli, configured, jobs_option, project_of, sealed, utc_now
from sealguard.cpus import default_jobs
from sealguard.report.reporters import reporter

if TYPE_CHECKING:
    from sealguard.events import RuntimeEvent


@cli.command()
@jobs_option
@click.option("--json", "as_json", is_flag=True, help="Print the RUNTIME_EVENT as JSON.")
@click.option(
    "--wait", is_flag=True, help="Wait for a running observation of the project to end first."
)
@click.pass_context
def observe(ctx: click.Context, jobs: int | None, as_json: bool, wait: bool) -> int:
    """Observe once: invariants, every probe once, classify, keep evidence, journal, act."""
    from sealguard.observe.observation import observe as observe_once
    from sealguard.seal.progress import steps

    project, config = configured(ctx)
    with steps():
        observation = observe_once(project, config, jobs or default_jobs(), wait=wait)
    output.write(reporter(as_json).observation(observation))
    return observation.exit_code


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> int:
    """The state of observation (OBSERVING, FROZEN, HALTED): since when, why, recent events."""
    from sealguard.observe.status import status as read_status

    project, config = configured(ctx)
    now = utc_now()
    found = read_status(project, config, now)
    output.write(reporter(as_json).status(found, now.replace(tzinfo=None)))
    return 0


def _find_event(ctx: click.Context, event_id: str) -> "dict[str, Any]":
    """The runtime_event record as the log holds it."""
    from sealguard.errors import UsageError
    from sealguard.ledger import read_events

    project, config = sealed(ctx)
    ledger_ = project.ledger(config)
    for event in read_events(ledger_.log) if ledger_.log.exists() else []:
        if event.get("type") == "runtime_event" and event.get("event_id") == event_id:
            return event
    raise UsageError(
        f"no observation {event_id} in the governance log "
        "(see `sealguard log show --type runtime_event`)"
    )


def _runtime_event(ctx: click.Context, event_id: str) -> "RuntimeEvent":
    """The runtime_event record, typed; a record that is no RUNTIME_EVENT is bad data."""
    from sealguard.errors import DataError
    from sealguard.events import from_data

    try:
        return from_data(_find_event(ctx, event_id))
    except ValueError as exc:  # msgspec.ValidationError
        raise DataError(f"{event_id}: the log's record is no valid RUNTIME_EVENT ({exc})") from None


@cli.command()
@click.argument("event_id")
@click.option("--json", "as_json", is_flag=True, help="Print the event as JSON.")
@click.pass_context
def show(ctx: click.Context, event_id: str, as_json: bool) -> int:
    """Show one observation's RUNTIME_EVENT, and every decision that answered it."""
    output.write(reporter(as_json).event(_find_event(ctx, event_id), _decisions_on(ctx, event_id)))
    return 0


def _decisions_on(ctx: click.Context, event_id: str) -> "list[dict[str, Any]]":
    from sealguard.ledger import read_events

    project, config = configured(ctx)
    return [
        e
        for e in read_events(project.ledger(config).log)
        if e.get("type") == "decision" and (e.get("answers") or {}).get("id") == event_id
    ]


@cli.command()
@click.argument("event_id")
@click.pass_context
def diff(ctx: click.Context, event_id: str) -> int:
    """An observation's diff with the baseline: test status changes, then the outputs' diff."""
    from sealguard.report import narrative

    event = _runtime_event(ctx, event_id)
    project = project_of(ctx)
    output.write(narrative.diff_text(project.root, event))
    return 0


@cli.command()
@click.argument("event_id")
@click.pass_context
def diagnose(ctx: click.Context, event_id: str) -> int:
    """The runbook's checklist answered for one observation, and its path through the rules."""
    from sealguard.ledger import audit
    from sealguard.report import narrative

    event = _runtime_event(ctx, event_id)
    project, config = configured(ctx)
    log_report = audit(project.ledger(config), default_jobs())
    output.write(narrative.diagnosis_text(project, event, log_report))
    return 0


@cli.command()
@click.option("--every", "every", required=True, help="Time between observations, e.g. 10m, 1h.")
@jobs_option
@click.option(
    "--count", type=click.IntRange(min=1), default=None, help="Stop after this many observations."
)
@click.pass_context
def watch(ctx: click.Context, every: str, jobs: int | None, count: int | None) -> int:
    """Observe on a schedule; while FROZEN or HALTED only report the state, until a decision
    resumes observation. Exits 130 on SIGINT (143 on SIGTERM), stopping a probe under way;
    else with the last round's class (2 FROZEN, 3 HALTED)."""
    from sealguard.durations import parse_duration
    from sealguard.observe.watch import Retried, exit_code
    from sealguard.observe.watch import watch as watch_loop
    from sealguard.report import narrative

    try:
        interval = parse_duration(every)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--every") from None
    project, _ = configured(ctx)  # each round acts on the config in force then
    last = None
    for done in watch_loop(project, interval, jobs or default_jobs(), count):
        for line in narrative.watch_lines(done):
            output.write(line)
        last = last if isinstance(done, Retried) else done
    return exit_code(last)


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
