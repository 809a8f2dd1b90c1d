"""Commands about escalations: the outbox, deliveries, channel tests, acknowledgement."""

import click

from sealguard import output
from sealguard.cli.root import cli, sealed, utc_now
from sealguard.exitcodes import ExitCode


@cli.group(invoke_without_command=True)
@click.option("--pending", is_flag=True, help="Only escalations not yet delivered or acknowledged.")
@click.option("--overdue", is_flag=True, help="Only open escalations past their deadline.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
@click.pass_context
def escalations(ctx: click.Context, pending: bool, overdue: bool, as_json: bool) -> int:
    """List escalations (the outbox) with their deliveries and time left."""
    if ctx.invoked_subcommand is not None:
        return 0
    from sealguard.escalation.dispatch import escalations as fold_escalations
    from sealguard.report.reporters import reporter

    project, config = sealed(ctx)
    now = utc_now().replace(tzinfo=None)
    found = list(fold_escalations(project, config).values())
    if pending or overdue:
        found = [e for e in found if e.open]
    if overdue:
        found = [e for e in found if now >= e.deadline_at]
    output.write(reporter(as_json).escalations(found, now))
    return 0


@escalations.command("deliver")
@click.pass_context
def escalations_deliver(ctx: click.Context) -> int:
    """Attempt every pending delivery now, due or not (and mark what is overdue)."""
    from sealguard.escalation.dispatch import deliver_due
    from sealguard.report import narrative

    project, config = sealed(ctx)
    attempts = deliver_due(project, config, utc_now(), every_pending=True)
    output.write(narrative.attempts_text(attempts) or "nothing is pending")
    return 0


@escalations.command("test")
@click.argument("channel", type=click.Choice(["email", "slack", "pagerduty", "webhook"]))
@click.pass_context
def escalations_test(ctx: click.Context, channel: str) -> int:
    """Send a clearly marked test message through one channel; exit 0 if it was delivered."""
    from sealguard.escalation.dispatch import test_channel

    project, config = sealed(ctx)
    result = test_channel(project, config, channel, utc_now())
    output.write(f"test via {channel}: {result.outcome} ({result.detail})")
    return int(ExitCode.OK if result.outcome == "delivered" else ExitCode.UNAVAILABLE)


@cli.command()
@click.argument("escalation_id")
@click.option("--by", required=True, help="Who acknowledges (a person's name).")
@click.option("--note", default="", help="What they will do.")
@click.pass_context
def ack(ctx: click.Context, escalation_id: str, by: str, note: str) -> int:
    """Acknowledge an escalation: it stops being retried or handed on; journaled."""
    from sealguard.escalation.dispatch import acknowledge

    project, config = sealed(ctx)
    event = acknowledge(project, config, escalation_id, by, note)
    output.write(f"acknowledged {escalation_id} by {by} (journaled as seq {event['seq']})")
    return 0
