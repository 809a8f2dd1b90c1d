"""`sealguard fleet status` and `fleet report`: every project x host of the fleet database."""

from pathlib import Path

import click

from sealguard import output
from sealguard.cli.fleet import fleet
from sealguard.cli.root import project_of, utc_now
from sealguard.project import Project

NO_URL = (
    "fleet {command}: no fleet database: pass --url postgresql://USER@HOST/DB, or run it in a "
    "project whose sealguard.toml has [ledger] url"
)

url_option = click.option(
    "--url", metavar="URL", default=None,
    help="postgresql://USER@HOST/DB (password in PGPASSWORD or ~/.pgpass; an auditor's role is "
    "enough); default: this project's [ledger] url.",
)  # fmt: skip
silent_option = click.option(
    "--silent-after", "silent_after", default="24h", metavar="DURATION", show_default=True,
    help="A host with no [schedule] is SILENT once it has not reported for this long (with "
    "one: once past its every + grace).",
)  # fmt: skip


def _project(ctx: click.Context) -> Project | None:
    """The governed project here (or named by --project), or None outside any."""
    from sealguard.errors import ConfigError

    try:
        return project_of(ctx)
    except ConfigError:
        return None


def _url(ctx: click.Context, given: str | None, command: str) -> str:
    """--url, else the project's [ledger] url; a usage error (64) when there is neither."""
    from sealguard.errors import UsageError
    from sealguard.fleet.urls import url_problem
    from sealguard.seal.settings import config_in_force

    url = given
    if url is None:
        project = _project(ctx)
        if project is None:
            raise UsageError(NO_URL.format(command=command))
        url = config_in_force(project).ledger.url
        if url is None:
            raise UsageError(NO_URL.format(command=command) + f" ({project.root} has none)")
    if problem := url_problem(url):  # not shown: it may hold the password it is refused for
        raise UsageError(f"fleet {command} --url: {problem}")
    return url


def _seconds(value: str) -> float:
    from sealguard.durations import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--silent-after") from None


@fleet.command("status")
@url_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@silent_option
@click.pass_context
def fleet_status(ctx: click.Context, url: str | None, as_json: bool, silent_after: str) -> int:
    """Every project x host: state, since when, last observation, baseline version, open and
    overdue escalations, lines held; INCIDENT where the database refused a log since it last
    accepted it (exit 3), SILENT where a host stopped reporting."""
    from sealguard.fleet.database import connect
    from sealguard.fleet.rendering import as_json as json_of
    from sealguard.fleet.rendering import text
    from sealguard.fleet.status import read
    from sealguard.fleet.urls import shown

    where = _url(ctx, url, "status")
    seconds = _seconds(silent_after)
    with connect(where, autocommit=True) as conn:
        found = read(conn, utc_now(), seconds, shown(where))
    output.write(output.json_text(json_of(found)) if as_json else text(found))
    return found.exit_code


@fleet.command("report")
@click.option(
    "-o", "--output", "target", required=True, type=click.Path(path_type=Path, dir_okay=False),
    help="Write the HTML page to this file.",
)  # fmt: skip
@url_option
@silent_option
@click.pass_context
def fleet_report(ctx: click.Context, target: Path, url: str | None, silent_after: str) -> int:
    """The auditor's page of the whole fleet, one self-contained HTML file: the status of every
    project x host, each log's lines, last accepted checkpoint and refusals, and each project's
    drifts, incidents and decisions. Exit 3 when the database refused any log since it last
    accepted it (the page is written all the same)."""
    from sealguard.fleet.database import connect
    from sealguard.fleet.rendering import page, totals
    from sealguard.fleet.status import read_report
    from sealguard.fleet.urls import shown
    from sealguard.report.writing import write_page

    where = _url(ctx, url, "report")
    seconds = _seconds(silent_after)
    project = _project(ctx)
    if project is not None:  # before anything is read: where sealguard keeps watch, never
        from sealguard.report.documents import refuse_target
        from sealguard.seal.settings import config_in_force

        refuse_target(project, config_in_force(project).selector(), target)
    with connect(where, autocommit=True) as conn:
        found = read_report(conn, utc_now(), seconds, shown(where))
    write_page(page(found), target, pdf=False)
    output.write(f"{target}: {totals(found.status)}")
    return found.status.exit_code
