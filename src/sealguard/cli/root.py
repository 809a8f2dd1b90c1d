"""The root command group, the error boundary's entry, and what every command shares."""

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sealguard import __version__
from sealguard.error_handler import guarded
from sealguard.project import Project, find_project

if TYPE_CHECKING:
    from sealguard.config import Config


_PROJECT = "sealguard.project"  # in ctx.meta, which every context of one run shares


def _remember_project(ctx: click.Context, _: click.Parameter, value: Path | None) -> None:
    """Keep the folder `--project` names, wherever it was given (before or after a command's
    name); two different folders in one command line are a usage error, not a silent choice."""
    if value is None:
        return
    resolved = value.resolve()
    given: tuple[Path, Path] | None = ctx.meta.get(_PROJECT)
    if given is not None and given[1] != resolved:
        raise click.UsageError(
            f"--project given twice: {given[0]} and {value}; give one folder", ctx=ctx
        )
    ctx.meta[_PROJECT] = (value, resolved)


def project_given(ctx: click.Context) -> Path | None:
    """The folder `--project` named (resolved), or None when it was not given."""
    given: tuple[Path, Path] | None = ctx.meta.get(_PROJECT)
    return given[1] if given else None


project_option = click.option(
    "--project",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    expose_value=False,
    callback=_remember_project,
    help="The governed project's root "
    "(default: the nearest parent holding governance/sealguard.toml, or a sealed baseline or log).",
)


class ProjectGroup(click.Group):
    """A group whose every command (and every command of its subgroups) takes `--project`,
    so that `sealguard observe --project X` means what `sealguard --project X observe` does."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        project_option(cmd)
        super().add_command(cmd, name)


ProjectGroup.group_class = ProjectGroup  # subgroups made by @group.group() are ProjectGroups


class SealguardGroup(ProjectGroup):
    """A group whose every exit code comes from the one error boundary."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:  # fmt: skip
        def body() -> int | None:
            from sealguard.ledger.journal import one_command

            with one_command():
                code: int | None = super(SealguardGroup, self).main(
                    args, prog_name or "sealguard", complete_var, standalone_mode=False, **extra
                )
            return code

        code = guarded(body)
        if standalone_mode:
            sys.exit(code)
        return code


def project_of(ctx: click.Context) -> Project:
    return find_project(Path.cwd(), project_given(ctx))


jobs_option = click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None,
    help="Processes that hash files (default: one per CPU core).",
)  # fmt: skip


@click.group(
    name="sealguard", cls=SealguardGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="sealguard")
@project_option
def cli() -> None:
    """Runtime governance of a sealed build: observe, journal, escalate, wait for a human."""


def configured(ctx: click.Context) -> "tuple[Project, Config]":
    """The project and the config in force: once sealed, the one the seal journaled."""
    from sealguard.seal.settings import config_in_force

    project = project_of(ctx)
    return project, config_in_force(project)


def sealed(ctx: click.Context) -> "tuple[Project, Config]":
    """`configured`, for a command that needs a sealed project: before `seal` it exits 64,
    having written nothing."""
    project, config = configured(ctx)
    project.require_sealed(ctx.command_path.partition(" ")[2])
    return project, config


def configured_file(ctx: click.Context) -> "tuple[Project, Config]":
    """The project and its config file, validated (exit 78 when it is not): for `seal`."""
    from sealguard.config import load_config

    project = project_of(ctx)
    return project, load_config(project.config_file)


def utc_now() -> datetime:
    return datetime.now(UTC)
