"""Decisions for many hosts on the command line: `sealguard fleet pull`, and where a proposal
applies (`propose --hosts H1,H2` or `--build NAME`)."""

from typing import TYPE_CHECKING, Any

import click

from sealguard import output
from sealguard.cli.fleet import fleet
from sealguard.cli.root import sealed, utc_now
from sealguard.ledger.layout import Ledger

if TYPE_CHECKING:
    from sealguard.config import Config
    from sealguard.decide.proposals import Proposal
    from sealguard.project import Project


def fleet_scope(ledger: Ledger, hosts: str | None, build: str | None) -> dict[str, Any] | None:
    """The scope `propose --hosts/--build` names (fleet_payload.Scope as builtins), or None
    for a proposal to this host alone; a usage error (64) before anything is written."""
    import msgspec

    from sealguard.decide import fleet_payload
    from sealguard.errors import UsageError

    if hosts is None and build is None:
        return None
    if hosts is not None and build is not None:
        raise UsageError("a proposal applies to either --hosts or --build, not both")
    if ledger.fleet is None:
        raise UsageError(
            "--hosts and --build name hosts of the fleet, which decisions reach through its "
            "database: set [ledger] url in sealguard.toml (README: The fleet ledger: PostgreSQL)"
        )
    scope = fleet_payload.scope_of(hosts.split(",") if hosts is not None else None, build)
    if problem := fleet_payload.scope_problem(scope):
        given = f'--hosts "{hosts}"' if hosts is not None else f'--build "{build}"'
        raise UsageError(f"{given}: {problem}")
    data: dict[str, Any] = msgspec.to_builtins(scope)
    return data


def announce(project: "Project", config: "Config", made: "Proposal") -> None:
    """Say where a proposal for hosts of the fleet applies; publish it now for people to read
    in the database (one warning line when it cannot be: its decision publishes it)."""
    from sealguard.decide.fleet_decisions import publish_quietly
    from sealguard.decide.fleet_payload import describe, scope_from

    published = ", published" if publish_quietly(project, config, made) else ""
    where = describe(scope_from(made.record["fleet"]["scope"]))
    output.write(
        f"{made.proposal_id} is for {where}{published}: once decided here, each of them takes "
        "it from the fleet database"
    )


@fleet.command("pull")
@click.pass_context
def fleet_pull(ctx: click.Context) -> int:
    """Take the decisions published in the fleet database for this host now (each observation
    also does): journal each one that applies here, and why not each one that does not, once;
    exit 0 taken (or refused, as journaled), 69 unreachable."""
    from sealguard.decide.fleet_decisions import pull

    project, config = sealed(ctx)
    pulled = pull(project, config, utc_now())
    for item in pulled:
        output.write(item.text())
    if not pulled:
        output.write("no decision published for this host that it has not taken already")
    return 0
