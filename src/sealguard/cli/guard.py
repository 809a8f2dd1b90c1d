"""`sealguard guard`: the pre-commit hook that keeps unauthorised changes of sealed paths out."""

import click

from sealguard import output
from sealguard.cli.root import cli, configured
from sealguard.exitcodes import ExitCode

NEXT = (
    "sealguard guard: commit refused; to change sealed paths, `sealguard propose --from "
    "STAGING`, have it signed (`sealguard decide PRO_… reseal`), then commit exactly that; "
    "or unstage them (`git restore --staged PATH`)"
)


@cli.command()
@click.pass_context
def guard(ctx: click.Context) -> int:
    """Pre-commit hook: refuse (exit 4, one line per path) a commit whose staged changes touch
    sealed paths, unless the baseline in force or a planned change a signed decision
    authorised holds exactly that content."""
    from sealguard.decide.covers import UNTRUSTED, guarded
    from sealguard.seal.guard import refusals
    from sealguard.seal.staged import staged

    project, config = configured(ctx)
    if not project.baseline_file.exists():
        output.write("sealguard guard: nothing is sealed here yet; no path is guarded")
        return 0
    found = guarded(project, config)
    refused = refusals(staged(project.root, found.sealed), found.sealed, found.covers)
    for refusal in refused:
        output.error(refusal.line())
    if refused:
        output.error(NEXT if found.trusted else f"sealguard guard: commit refused: {UNTRUSTED}")
        return int(ExitCode.REFUSED)
    return 0
