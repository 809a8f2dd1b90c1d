"""The fleet database's logs checked, proved, exported, and a file log migrated into it:
`fleet verify` (every log, the one command that verifies everything), `log migrate --to`, and
what `log verify`, `log prove` and `log export` do with `--url` (cli/fleet_logs.py)."""

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sealguard import output
from sealguard.cli.fleet import fleet
from sealguard.cli.log import log
from sealguard.cli.root import configured, jobs_option, sealed
from sealguard.cpus import default_jobs
from sealguard.errors import ConfigError, UsageError
from sealguard.names import terminal_safe as _one

if TYPE_CHECKING:
    from sealguard.cli.fleet_logs import FleetLog
    from sealguard.config import Config
    from sealguard.fleet.audit import LogAudit
    from sealguard.fleet.migration import Migration
    from sealguard.ledger.layout import FleetPlace
    from sealguard.ledger.problem import Problem
    from sealguard.project import Project

NAME_THE_LOG = (
    "name the log of the fleet database: --origin ORIGIN, or --host HOST --project-name NAME "
    "(or run this in the project, for its own log)"
)


def place_for(project: "Project", config: "Config", url: str) -> "FleetPlace":
    """Where the project's log is kept in the database at `url`: its names as the config gives
    them, with their defaults (the folder's name, this machine's host name)."""
    from sealguard.ledger.layout import FleetPlace

    settings = config.ledger
    return FleetPlace(
        url,
        settings.project or project.root.resolve().name,
        settings.host or socket.gethostname(),
        settings.build,
    )


def _own(ctx: click.Context) -> "tuple[Project, Config]":
    try:
        return configured(ctx)
    except ConfigError:
        raise UsageError(NAME_THE_LOG) from None


def _origin(ctx: click.Context, conn: Any, chosen: "FleetLog") -> str:
    """The origin of the log the command line names; by default, this project's."""
    from sealguard.fleet import entries
    from sealguard.ledger.reader import read_first_event

    if chosen.origin:
        return chosen.origin
    entries.require_schema(conn)
    if chosen.host and chosen.project_name:
        return entries.origin_of(conn, chosen.project_name, chosen.host)
    project, config = _own(ctx)
    if chosen.host or chosen.project_name:
        own = place_for(project, config, chosen.url)
        return entries.origin_of(conn, chosen.project_name or own.project, chosen.host or own.host)
    first = read_first_event(project.log_file) if project.log_file.exists() else None
    origin = ((first or {}).get("log_key") or {}).get("origin")
    if not isinstance(origin, str):
        raise UsageError(f"{project.log_file}: no log here to name; {NAME_THE_LOG}")
    return origin


def _resolved(ctx: click.Context, chosen: "FleetLog") -> str:
    from sealguard.fleet.database import connect

    with connect(chosen.url, autocommit=True) as conn:
        return _origin(ctx, conn, chosen)


# ----- log verify / prove / export --url ------------------------------------------------------


def _problem_line(origin: str, problem: "Problem") -> str:
    text = _one(problem.message)  # it may quote the database's text: one line, always
    if problem.line is not None and not text.startswith("line"):
        return f"  {problem.kind} {_one(origin)} line {problem.line}: {text}"
    return f"  {problem.kind} {_one(origin)}: {text}"


def _named(report: "LogAudit") -> str:
    """The log as lines name it: what a host enrolled is data, shown on one line."""
    return f"{_one(report.origin)} ({_one(report.name)})"


def audit_text(report: "LogAudit", where: str) -> str:
    from sealguard.fleet.migration import b64

    named = f"log {_named(report)} in {where}"
    if report.intact:
        lines = [
            f"INTACT: {named}: {report.lines:,} lines, tree root {b64(report.root)}; "
            f"{report.checkpoints:,} accepted checkpoints hold (the latest covers "
            f"{report.latest or 0:,} lines)"
        ]
    else:
        count = len(report.problems)
        lines = [f"INCIDENT: {named} is not intact (INV-D-03): {count} problem(s)"]
        lines += [_problem_line(report.origin, p) for p in report.problems]
    if report.torn_tails:
        accounted = ", ".join(map(str, report.torn_tails))
        lines.append(f"torn writes accounted for by torn_tail events: lines {accounted}")
    return "\n".join(lines)


def audit_json(report: "LogAudit", where: str) -> dict[str, Any]:
    from sealguard.fleet.migration import b64

    problems = [{"kind": p.kind, "line": p.line, "message": p.message} for p in report.problems]
    return {
        "command": "log verify",
        "url": where,
        "origin": report.origin,
        "log": report.name,
        "intact": report.intact,
        "exit_code": 0 if report.intact else 3,
        "lines": report.lines,
        "root": b64(report.root),
        "checkpoints": report.checkpoints,
        "latest_checkpoint_size": report.latest,
        "torn_tails": report.torn_tails,
        "first_problem": problems[0] if problems else None,
        "problems": problems,
    }


def verify_log(ctx: click.Context, chosen: "FleetLog", jobs: int | None, as_json: bool) -> int:
    """`log verify --url`: exit 0 intact, 3 not, 69 unreachable."""
    from sealguard.fleet.urls import shown
    from sealguard.fleet.verification import verify

    report = verify(chosen.url, _resolved(ctx, chosen), jobs or default_jobs())
    if as_json:
        output.write_json(audit_json(report, shown(chosen.url)))
    else:
        output.write(audit_text(report, shown(chosen.url)))
    return 0 if report.intact else 3


def prove_log(ctx: click.Context, chosen: "FleetLog", seq: int) -> dict[str, Any]:
    """`log prove --url`: the bundle, as `log prove` writes it."""
    from sealguard.fleet.bundles import prove
    from sealguard.fleet.database import connect

    origin = _resolved(ctx, chosen)
    with connect(chosen.url) as conn:
        return prove(conn, origin, seq)


def export_log(ctx: click.Context, chosen: "FleetLog", target: Path) -> list[str]:
    """`log export --url`: the archive, as `log export` writes it."""
    from sealguard.fleet.bundles import export_log as export
    from sealguard.fleet.database import connect
    from sealguard.ledger import read_events
    from sealguard.report.render import decisions_text

    def decisions(log_file: Path) -> dict[str, bytes]:
        return {"DECISIONS.txt": decisions_text(read_events(log_file))}

    origin = _resolved(ctx, chosen)
    with connect(chosen.url) as conn:
        return export(conn, origin, target, decisions)


# ----- fleet verify ---------------------------------------------------------------------------


def _fleet_url(ctx: click.Context, url: str | None) -> str:
    if url is not None:
        return url
    try:
        _, config = configured(ctx)
    except ConfigError:
        config = None
    if config is None or config.ledger.url is None:
        raise UsageError("give the fleet database: --url postgresql://… (or run this in a project "
                         "with [ledger] url)")  # fmt: skip
    return config.ledger.url


def _log_line(report: "LogAudit") -> str:
    named = _named(report) + (f" (retired {report.retired})" if report.retired else "")
    if report.intact:
        return (
            f"ok {named}: {report.lines:,} lines, {report.checkpoints:,} accepted checkpoints hold"
        )
    first = report.problems[0]
    where = f" line {first.line}" if first.line is not None else ""
    return (
        f"INCIDENT {named}: {len(report.problems)} problem(s); first {first.kind}{where}: "
        f"{_one(first.message)}"
    )


@fleet.command("verify")
@jobs_option
@click.option(
    "--url", metavar="URL",
    help="The fleet database (default: this project's [ledger] url); the password in "
    "PGPASSWORD or ~/.pgpass.",
)  # fmt: skip
@click.pass_context
def fleet_verify(ctx: click.Context, jobs: int | None, url: str | None) -> int:
    """Verify every log the fleet database keeps, from its rows (as `log verify --url`), one
    line per log; exit 0 all intact, 3 any not, 69 unreachable."""
    from sealguard.fleet.urls import shown
    from sealguard.fleet.verification import verify_all

    where = shown(_fleet_url(ctx, url))
    failed = total = 0
    for report in verify_all(_fleet_url(ctx, url), jobs or default_jobs()):
        total += 1
        failed += not report.intact
        output.write(_log_line(report))
    if total:
        output.write(f"{where}: {total} log(s), {total - failed} intact, {failed} not")
    else:
        output.write(f"{where}: the fleet database keeps no log yet")
    return 3 if failed else 0


# ----- log migrate ----------------------------------------------------------------------------


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's), to paste as it is printed."""
    import json

    return json.dumps(text)


def _next_step(migration: "Migration", config: "Config") -> list[str]:
    place = migration.place
    if config.ledger.url == place.url:
        return ["this project's [ledger] url is already this database: every act ships there"]
    return [
        "next: have every act ship there: in a staging copy of the build, set in "
        "governance/sealguard.toml",
        "  [ledger]",
        f"  url = {_toml(place.url)}",
        f"  project = {_toml(place.project)}",
        f"  host = {_toml(place.host)}",
        "then `sealguard propose --from STAGING`, an Architect signs `sealguard decide PRO_… "
        "amend`, and deploy the file: the next observation installs it. The files here stay "
        "this host's log (its spool and evidence) either way.",
    ]


def migration_text(migration: "Migration", config: "Config") -> str:
    from sealguard.fleet.migration import b64

    local, held, place = migration.local, migration.held, migration.place
    return "\n".join(
        [
            f"sent {migration.sent:,} lines of log {migration.origin} ({_one(place.project)} on "
            f"{_one(place.host)}) to {migration.where}; it holds {held.size:,}",
            f"root: the database's tree at {local.size:,} lines is {b64(migration.at_local)}, "
            f"the root of this log's checkpoint at {local.size:,} lines, signed by the log key "
            f"{migration.origin}",
            f"consistency: a proof of {len(migration.proof)} hash(es) from {local.size:,} to "
            f"{held.size:,} lines verifies against the database's newest checkpoint (root "
            f"{b64(held.root)})",
            *_next_step(migration, config),
        ]
    )


@log.command("migrate")
@jobs_option
@click.option(
    "--to", "url", required=True, metavar="URL",
    help="The fleet database (postgresql://…; the password in PGPASSWORD or ~/.pgpass).",
)  # fmt: skip
@click.pass_context
def log_migrate(ctx: click.Context, jobs: int | None, url: str) -> int:
    """Copy this project's log into the fleet database and prove the tree unchanged there (a
    consistency proof); run again, it sends nothing and proves again. Exit 0 done, 3 the log is
    not intact or the copy differs, 4 the database keeps another history, 69 unreachable."""
    from sealguard.fleet.migration import migrate

    project, config = sealed(ctx)
    ledger = project.ledger(config)
    migration = migrate(ledger, place_for(project, config, url), jobs or default_jobs())
    output.write(migration_text(migration, config))
    return 0
