"""Commands about the sealed build: init, seal, verify, demo."""

import time
from pathlib import Path

import click

from sealguard import output
from sealguard.cli.root import cli, configured, configured_file, jobs_option, project_given
from sealguard.cpus import default_jobs
from sealguard.project import Project
from sealguard.report import render
from sealguard.seal.progress import progress_bar, steps


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> int:
    """Write a commented starter governance/sealguard.toml (never overwrites one)."""
    from sealguard.seal.starter import init as write_starter

    project = Project(project_given(ctx) or Path.cwd().resolve())
    starter = write_starter(project)
    output.write(
        f"wrote {project.display(project.config_file)}: its globs seal {starter.files:,} files "
        "today"
    )
    if starter.probes:
        found = ", ".join(f"{p.runner} ({p.found_in})" for p in starter.probes)
        output.write(f"probes proposed: {found}")
    else:
        output.write(
            "no test runner found (pytest, vitest, jest, node --test, npm test): write a "
            "[[probe]], or set `files_only = true` in [seal] to seal files only"
        )
    output.write("review it, then run `sealguard seal`")
    return 0


@cli.command()
@jobs_option
@click.pass_context
def seal(ctx: click.Context, jobs: int | None) -> int:
    """Seal the build once: every file, the config, and each probe's behaviour; journaled."""
    from sealguard.seal.sealing import seal as seal_build

    project, config = configured_file(ctx)
    started = time.perf_counter()
    with steps():
        report = seal_build(project, config, jobs or default_jobs())
    elapsed = time.perf_counter() - started
    output.write(render.seal_text(report, project.display(project.baseline_file), elapsed))
    if not config.probe:
        output.write("files only: no probe watches the build's behaviour ([seal] files_only)")
    for klass, channels in config.unreachable():
        article = "an" if klass == "INCIDENT" else "a"
        output.write(
            f"warning: {article} {klass} would reach nobody: none of its channels "
            f"({', '.join(channels)}) is configured in [channels.*] (README: Escalation)"
        )
    if not project.authority_file.exists():
        output.write(
            f"warning: no {project.display(project.authority_file)} was sealed: nobody can sign "
            "a decision, so a drift or an incident will have no way out (README: Authority)"
        )
    return 0


@cli.command()
@jobs_option
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON report.")
@click.option(
    "--full",
    is_flag=True,
    help="Audit the whole log again, line by line and every checkpoint, instead of only what "
    "is new since its last verified state (README: Security notes).",
)
@click.pass_context
def verify(ctx: click.Context, jobs: int | None, as_json: bool, full: bool) -> int:
    """Check the sealed build, its baseline, the log, the runtime area and every decision
    (INV-D-01..04, 06, 07). The log's audit is incremental unless --full or one is due."""
    from sealguard.report.reporters import reporter
    from sealguard.seal import versions
    from sealguard.seal.verify import verify as verify_build

    project, config = configured(ctx)
    versions.complete_pending(project, project.ledger(config).folder)
    started = time.perf_counter()
    with progress_bar("verifying") as start_progress:
        report = verify_build(project, config, jobs or default_jobs(), start_progress, full=full)
    elapsed = time.perf_counter() - started
    output.write(reporter(as_json).verify(report, elapsed))
    return int(render.verify_exit_code(report))


@cli.command()
@click.option(
    "--keep",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Run the demo in this new folder and keep it, instead of a temporary one.",
)
def demo(keep: Path | None) -> int:
    """Walk an embedded sample product through STABLE, TOOLING_DRIFT, PRODUCT_DRIFT, INCIDENT."""
    from sealguard.demo import run_demo

    return run_demo(keep, output.write)
