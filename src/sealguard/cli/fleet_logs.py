"""The options that point `log verify`, `log prove` and `log export` at a log of the fleet
database instead of the project's files: `--url`, and which log (`--origin`, or `--host` with
`--project-name`; by default this project's own)."""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click


@dataclass(frozen=True)
class FleetLog:
    """A log of the fleet database, as the command line names it."""

    url: str
    origin: str | None = None
    host: str | None = None
    project_name: str | None = None


_OPTIONS = (
    click.option(
        "--url", metavar="URL",
        help="Read the log from this fleet database (postgresql://…; the password in PGPASSWORD "
        "or ~/.pgpass) instead of the project's files.",
    ),
    click.option("--origin", metavar="ORIGIN", help="With --url: the log's origin."),
    click.option(
        "--host", "fleet_host", metavar="HOST",
        help="With --url: the log of this host (default: this project's log).",
    ),
    click.option(
        "--project-name", metavar="NAME",
        help="With --host: the project's name in the fleet (default: this project's).",
    ),
)  # fmt: skip


def fleet_log_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options; the command receives them as one `fleet` argument (None without
    `--url`)."""

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        url: str | None,
        origin: str | None,
        fleet_host: str | None,
        project_name: str | None,
        **kwargs: Any,
    ) -> Any:
        if url is None and (origin or fleet_host or project_name):
            raise click.UsageError("--origin, --host and --project-name name a log of --url")
        if origin and (fleet_host or project_name):
            raise click.UsageError("name the log by --origin, or by --host and --project-name")
        chosen = FleetLog(url, origin, fleet_host, project_name) if url else None
        return command(*args, fleet=chosen, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
