"""`sealguard serve`: the read-only dashboard, JSON API and Prometheus metrics."""

from pathlib import Path

import click

from sealguard import output
from sealguard.cli.root import cli, project_of


@cli.command()
@click.option(
    "--bind",
    default="127.0.0.1:8470",
    show_default=True,
    help="HOST:PORT to listen on; beyond loopback (127.0.0.0/8, ::1) a token is required.",
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A file holding the bearer token (else $SEALGUARD_SERVE_TOKEN), never an argument.",
)
@click.pass_context
def serve(ctx: click.Context, bind: str, token_file: Path | None) -> int:
    """Serve the live dashboard, the JSON API and /metrics, read only. SIGTERM stops it (exit
    143), Ctrl-C too (exit 130)."""
    from sealguard.serve import auth
    from sealguard.serve.server import serve as run_server

    where = auth.parse_bind(bind)
    token = auth.load_token(token_file)
    auth.require_token(where, token)
    return run_server(project_of(ctx), where, token, output.write)
