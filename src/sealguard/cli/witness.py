"""Commands on the witness's side: make a witness folder, and check the logs it keeps."""

from pathlib import Path

import click

from sealguard import output
from sealguard.cli.root import cli, jobs_option
from sealguard.cpus import default_jobs


@cli.group()
def witness() -> None:
    """The witness: an anchor for the governance log outside the project's reach."""


@witness.command("init")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
def witness_init(folder: Path) -> int:
    """Make a witness in FOLDER and print its verifier key (record it somewhere else too)."""
    from sealguard.ledger.witness import FolderWitness

    identity = FolderWitness(folder.resolve()).create()
    output.write(f"made witness {identity.name} in {folder}")
    output.write(f"verifier key: {identity.verifier_key}")
    return 0


@witness.command("check")
@jobs_option
@click.option(
    "--dir", "folder", required=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="The witness folder.",
)  # fmt: skip
def witness_check(jobs: int | None, folder: Path) -> int:
    """Every log the witness keeps must still be extended by its project; exit 0 yes, 3 no.

    Meant to run from a timer on the witness's machine: it sees a project wiped and re-sealed,
    re-keyed, or cut back, which nothing left in the project can show.
    """
    from sealguard.ledger.monitor import check

    kept = check(folder.resolve(), jobs or default_jobs())
    for log in kept:
        if log.problem is None:
            output.write(
                f"ok {log.project}: log {log.origin} extends the {log.size} lines the witness "
                "cosigned"
            )
        else:
            output.write(f"INCIDENT {log.project}: {log.problem}")
    if not kept:
        output.write(f"{folder}: the witness keeps no log yet")
    return 3 if any(log.problem for log in kept) else 0
