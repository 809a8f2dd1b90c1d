"""`sealguard review`: the signed review of the audit trail for one period."""

from pathlib import Path
from typing import TYPE_CHECKING

import click

from sealguard import output
from sealguard.cli.decide import _sign, review_signing_options
from sealguard.cli.root import cli, sealed, utc_now

if TYPE_CHECKING:
    from datetime import datetime


def _moment(option: str, text: str | None) -> "datetime":
    from sealguard.decide.review_payload import parse_moment
    from sealguard.errors import UsageError

    if not text:
        raise UsageError(f"name the period reviewed: {option} is required (ISO 8601, UTC)")
    try:
        return parse_moment(text)
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not an ISO 8601 time such as 2026-11-26T18:00:00Z"
        ) from None


@cli.command()
@click.option("--since", default=None, help="Start of the period reviewed (ISO 8601; UTC).")
@click.option("--until", default=None, help="Its end, excluded; not in the future.")
@review_signing_options
@click.pass_context
def review(
    ctx: click.Context, since: str | None, until: str | None, *, reason: str,
    keys: tuple[Path, ...], agent: bool, payload_only: bool, payload_file: Path | None,
    signature_files: tuple[Path, ...],
) -> int:  # fmt: skip
    """Sign the review of the audit trail for a period (EU GMP Annex 11 §9): an operator or
    architect signs the report's content hash for it, with the meaning `review`; journaled."""
    from sealguard.decide import reviews
    from sealguard.decide.decisions import read_signatures
    from sealguard.decide.review_payload import NAMESPACE
    from sealguard.errors import UsageError
    from sealguard.report.render import review_line

    project, config = sealed(ctx)
    now = utc_now()
    if payload_file is not None:
        given = [n for n, v in (("--since", since), ("--until", until), ("--reason", reason)) if v]
        if given:
            raise UsageError(
                f"--payload carries its own period and reason; drop {', '.join(given)}"
            )
        data = payload_file.read_bytes()
    else:
        request = reviews.ReviewRequest(
            _moment("--since", since), _moment("--until", until), reason
        )
        data = reviews.prepare(project, config, request, now)
        if payload_only:
            output.write_bytes(data)
            return 0
    signatures = read_signatures(signature_files) + _sign(data, keys, agent, NAMESPACE)
    done = reviews.record(project, config, data, signatures, now)
    output.write(f"{review_line(done)}\njournaled at seq {done.get('seq')}")
    return 0
