"""Commands on the fleet database: make its schema and roles, and ship a host's owed lines."""

import click

from sealguard import output
from sealguard.cli.root import cli


@cli.group()
def fleet() -> None:
    """The fleet ledger: many projects on many hosts, one PostgreSQL database."""


@fleet.command("init")
@click.option(
    "--url", required=True, metavar="URL",
    help="postgresql://ADMIN@HOST/DB as a role that may create schemas and roles (password in "
    "PGPASSWORD or ~/.pgpass).",
)  # fmt: skip
def fleet_init(url: str) -> int:
    """Create (or bring up to date) the fleet ledger's schema and its two roles,
    sealguard_observer and sealguard_auditor; nothing existing is changed."""
    from sealguard.fleet.database import connect, install
    from sealguard.fleet.urls import shown

    with connect(url) as conn:
        applied = install(conn)
        conn.commit()
    if applied:
        output.write(f"{shown(url)}: applied {', '.join(applied)}")
    else:
        output.write(f"{shown(url)}: the fleet ledger's schema is up to date")
    output.write(
        "grant a host's login role the observer's rights: "
        "GRANT sealguard_observer TO <role>; an auditor's: GRANT sealguard_auditor TO <role>"
    )
    output.write(
        "reserve each host's name for its role before its first shipment: sealguard fleet "
        "reserve --url URL --project-name P --host H --role R"
    )
    return 0


@fleet.command("push")
@click.pass_context
def fleet_push(ctx: click.Context) -> int:
    """Ship this project's owed lines to the fleet database now (each act also does); exit 0
    shipped, 69 unreachable, 4 refused."""
    from sealguard.cli.root import configured
    from sealguard.fleet.urls import shown
    from sealguard.ledger.writer import ship_owed

    project, config = configured(ctx)
    ledger = project.ledger(config)
    shipped = ship_owed(ledger)
    where = shown(ledger.fleet.url) if ledger.fleet else "?"
    output.write(f"{where} holds {shipped.size} lines of this log ({shipped.sent} sent now)")
    return 0


@fleet.command("reserve")
@click.option(
    "--url", required=True, metavar="URL",
    help="postgresql://OWNER@HOST/DB as the fleet schema's owner (or a superuser).",
)  # fmt: skip
@click.option(
    "--project-name", "project_name", required=True, help="The project's name ([ledger] project)."
)
@click.option("--host", "host", required=True, help="The host name ([ledger] host).")
@click.option("--role", "role", required=True, help="The host's login role.")
def fleet_reserve(url: str, project_name: str, host: str, role: str) -> int:
    """Reserve a project x host for the host's login role before its first shipment: no
    other role can enrol a log under that name (exit 0; 4 another role's log has it)."""
    from sealguard.fleet.database import connect
    from sealguard.fleet.reservations import reserve
    from sealguard.fleet.urls import shown

    with connect(url) as conn:
        done = reserve(conn, project_name, host, role)
    moved = f" (it was {done.before}'s)" if done.before else ""
    kept = f"; it keeps log {done.enrolled}" if done.enrolled else ""
    said = f"{project_name} on {host} is reserved for the role {role}{moved}{kept}"
    output.write(f"{shown(url)}: {said}")
    return 0


@fleet.command("retire")
@click.option(
    "--url", required=True, metavar="URL",
    help="postgresql://OWNER@HOST/DB as the fleet schema's owner (or a superuser).",
)  # fmt: skip
@click.option("--origin", "origin", required=True, help="The log to retire (its origin).")
@click.option("--reason", "reason", required=True, help="Why: kept with the log for ever.")
def fleet_retire(url: str, origin: str, reason: str) -> int:
    """Retire a log whose host was rebuilt or re-sealed on purpose: it takes nothing more and
    stays as it is; its project x host is free for the new log (exit 0; 4 unknown or retired
    already)."""
    from sealguard.fleet.database import connect
    from sealguard.fleet.retirement import retire
    from sealguard.fleet.urls import shown

    with connect(url) as conn:
        done = retire(conn, origin, reason)
    output.write(
        f"{shown(url)}: log {done.origin} ({done.project} on {done.host}) is retired with its "
        f"{done.lines:,} lines; a new log may take its name"
    )
    return 0


# the group's other commands, in modules of their own; importing them registers them
from sealguard.cli import fleet_decide, fleet_views  # noqa: E402, F401
