"""`sealguard runbook`: the runbook's companion documents, generated from the project."""

from pathlib import Path
from typing import TYPE_CHECKING

import click

from sealguard import output
from sealguard.cli.root import cli, configured

if TYPE_CHECKING:
    from sealguard.decide.authority import Authority
    from sealguard.project import Project


def _authority(project: "Project") -> "Authority | None":
    """The authority to document: the one in force (journaled with the baseline version)."""
    from sealguard.seal.settings import authority_in_force

    return authority_in_force(project)


@cli.command()
@click.option(
    "-o", "--output", "folder", type=click.Path(path_type=Path, file_okay=False),
    help="Write the documents into this folder (created if need be) instead of printing them.",
)  # fmt: skip
@click.pass_context
def runbook(ctx: click.Context, folder: Path | None) -> int:
    """The authority model, escalation matrix, diagnostic checklist and incident template."""
    from sealguard.report.documents import write_documents
    from sealguard.report.runbook import companion_documents

    project, config = configured(ctx)
    documents = companion_documents(config, _authority(project))
    if folder is None:
        for name, text in documents.items():
            output.write(f"==> {name} <==\n{text}")
        return 0
    for written in write_documents(folder, documents, project, config.selector()):
        output.write(f"wrote {folder / written.name}")
    return 0
