"""Commands about the schedule: the heartbeat that notices silence, and the timers to install."""

import sys
from pathlib import Path

import click

from sealguard import output
from sealguard.cli.root import cli, configured, sealed, utc_now


@cli.command()
@click.option("--wait", is_flag=True, help="Wait for a running observation to end first.")
@click.pass_context
def heartbeat(ctx: click.Context, wait: bool) -> int:
    """Escalate when observations stopped arriving on the [schedule] (for a timer of its own);
    close that escalation once they arrive again. Exits 69 while observations are silent."""
    from sealguard.observe.heartbeat import describe
    from sealguard.observe.heartbeat import heartbeat as beat
    from sealguard.report import narrative

    project, config = sealed(ctx)
    found = beat(project, config, utc_now(), wait=wait)
    output.write(describe(found))
    if found.attempts:
        output.write(narrative.attempts_text(list(found.attempts)))
    return found.exit_code


def _command() -> tuple[str, ...]:
    """The sealguard in use: its console script, else this python running the package."""
    script = Path(sys.argv[0])
    if script.name == "sealguard" and script.exists():
        return (str(script.resolve()),)
    return (str(Path(sys.executable).absolute()), "-m", "sealguard")


@cli.command()
@click.argument("kind", type=click.Choice(["systemd", "cron"]))
@click.option(
    "--output", "-o", "folder", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Write the systemd units into this folder (e.g. ~/.config/systemd/user) "
    "instead of printing them.",
)  # fmt: skip
@click.pass_context
def schedule(ctx: click.Context, kind: str, folder: Path | None) -> int:
    """Print timers for this project: observe every [schedule] every, and the heartbeat apart
    (systemd: a service and a timer for each; cron: a line for each)."""
    from sealguard.config import error_at
    from sealguard.observe.heartbeat import no_schedule
    from sealguard.report.documents import write_documents
    from sealguard.timers import Job, cron_lines, systemd_units

    project, config = configured(ctx)
    if config.schedule is None:
        raise no_schedule(project)
    job = Job(str(project.root), _command(), config.schedule.every_seconds)
    if kind == "cron":
        lines = cron_lines(job)
        if lines is None:
            raise error_at(
                project.config_file, ["schedule", "every"],
                f'cron cannot run every {config.schedule.every}: use `sealguard schedule '
                'systemd`, or an interval that divides an hour or a day',
            )  # fmt: skip
        output.write("\n".join(lines))
        return 0
    units = systemd_units(job)
    if folder is None:
        output.write("\n".join(f"# {name}\n{text}" for name, text in units.items()).rstrip())
        return 0
    # never into the sealed paths or the runtime area: refused (4) as `runbook -o` is
    write_documents(folder, units, project, config.selector())
    output.write(f"wrote {', '.join(units)} in {folder}")
    return 0
