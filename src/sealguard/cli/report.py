"""`sealguard report`: the auditor's report of a period, as one self-contained HTML page (or
its model as JSON, or a PDF through a headless chromium)."""

from datetime import datetime
from pathlib import Path

import click

from sealguard import output
from sealguard.cli.root import cli, sealed, utc_now


def _moment(_ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 time; without a zone it is UTC. A bad one names its option (exit 64)."""
    if value is None:
        return None
    from sealguard.decide.review_payload import parse_moment  # the same reading as `review`

    try:
        return parse_moment(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2026-11-01T00:00:00Z", param=param
        ) from None


@cli.command()
@click.option(
    "-o", "--output", "target", type=click.Path(path_type=Path, dir_okay=False),
    help="Write the HTML page (or, with --pdf, the PDF) to this file.",
)  # fmt: skip
@click.option("--since", callback=_moment, help="Start of the period (ISO 8601, UTC; included).")
@click.option("--until", callback=_moment, help="End of the period (ISO 8601, UTC; excluded).")
@click.option("--json", "as_json", is_flag=True, help="Print the report's model as JSON.")
@click.option("--pdf", is_flag=True, help="Write a PDF through a headless chromium.")
@click.pass_context
def report(
    ctx: click.Context,
    *,
    target: Path | None,
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
    pdf: bool,
) -> int:
    """The auditor's report: state, verification, timeline, plots, every drift with its
    evidence, escalations, decisions and inclusion proof, for a period of the log."""
    from sealguard.errors import UsageError
    from sealguard.report.report_source import load_report

    if as_json == (target is not None):
        raise UsageError("report: give either -o FILE (the HTML page, or --pdf) or --json")
    if pdf and target is None:
        raise UsageError("report: --pdf needs -o FILE.pdf")
    project, config = sealed(ctx)
    if target is not None:  # before anything is read: where sealguard keeps watch, never
        from sealguard.report.documents import refuse_target

        refuse_target(project, config.selector(), target)
    found = load_report(project, config, since, until, utc_now())
    if as_json:
        import msgspec

        output.write_json(msgspec.to_builtins(found))
        return _exit_code(found.verification.intact)
    assert target is not None
    from sealguard.report.html import render_html
    from sealguard.report.writing import write_page

    write_page(render_html(found), target, pdf)
    output.write(f"wrote {target}: {found.content_sha256} (content SHA-256 of the period)")
    return _exit_code(found.verification.intact)


def _exit_code(intact: bool) -> int:
    """As `log verify`'s: 3 when the log is not intact (the report is made all the same, and
    its banner says what the audit found)."""
    from sealguard.exitcodes import ExitCode

    return int(ExitCode.OK if intact else ExitCode.INCIDENT)
