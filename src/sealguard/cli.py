"""The command line: parse, call one library function, render what it returns."""

import sys
import time
from pathlib import Path
from typing import Any

import click

from sealguard import __version__, output, render
from sealguard.error_handler import guarded
from sealguard.hashing import default_jobs
from sealguard.progress import progress_bar
from sealguard.project import Project, find_project


class SealguardGroup(click.Group):
    """A group whose every exit code comes from the one error boundary."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:  # fmt: skip
        def body() -> int | None:
            code: int | None = super(SealguardGroup, self).main(
                args, prog_name or "sealguard", complete_var, standalone_mode=False, **extra
            )
            return code

        code = guarded(body)
        if standalone_mode:
            sys.exit(code)
        return code


def _project(ctx: click.Context) -> Project:
    return find_project(Path.cwd(), ctx.obj["project"])


jobs_option = click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None,
    help="Processes that hash files (default: one per CPU core).",
)  # fmt: skip


@click.group(
    name="sealguard", cls=SealguardGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="sealguard")
@click.option(
    "--project",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The governed project's root "
    "(default: the nearest parent holding governance/sealguard.toml).",
)
@click.pass_context
def cli(ctx: click.Context, project: Path | None) -> None:
    """Runtime governance of a sealed build: observe, journal, escalate, wait for a human."""
    ctx.obj = {"project": project}


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> int:
    """Write a commented starter governance/sealguard.toml (never overwrites one)."""
    from sealguard.starter import init as write_starter

    project = Project((ctx.obj["project"] or Path.cwd()).resolve())
    count = write_starter(project)
    output.write(
        f"wrote {project.display(project.config_file)}: its globs seal {count:,} files today"
    )
    output.write("review it, then run `sealguard seal`")
    return 0


@cli.command()
@jobs_option
@click.pass_context
def seal(ctx: click.Context, jobs: int | None) -> int:
    """Hash every sealed file into governance/BASELINE_REF.sha256 and journal it (once)."""
    from sealguard.config import load_config
    from sealguard.seal import seal as seal_build

    project = _project(ctx)
    config = load_config(project.config_file)
    started = time.perf_counter()
    report = seal_build(project, config, jobs or default_jobs())
    elapsed = time.perf_counter() - started
    output.write(render.seal_text(report, project.display(project.baseline_file), elapsed))
    return 0


@cli.command()
@jobs_option
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON report.")
@click.pass_context
def verify(ctx: click.Context, jobs: int | None, as_json: bool) -> int:
    """Check that the baseline and every sealed file are exactly as sealed (INV-D-01, INV-D-02)."""
    from sealguard.config import load_config
    from sealguard.verify import verify as verify_build

    project = _project(ctx)
    config = load_config(project.config_file)
    started = time.perf_counter()
    with progress_bar("verifying") as start_progress:
        report = verify_build(project, config, jobs or default_jobs(), start_progress)
    elapsed = time.perf_counter() - started
    if as_json:
        output.write_json(render.verify_json(report, elapsed))
    else:
        output.write(render.verify_text(report, elapsed))
    return int(render.verify_exit_code(report))


@cli.command()
@click.option(
    "--keep",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Run the demo in this new folder and keep it, instead of a temporary one.",
)
def demo(keep: Path | None) -> int:
    """Seal the embedded sample product, verify it, tamper with it, and show the INCIDENT."""
    from sealguard.demo import run_demo

    return run_demo(keep)


def main() -> None:
    cli.main()
