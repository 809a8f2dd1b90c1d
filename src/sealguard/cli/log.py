"""Commands about the governance log: verify, show, prove, check-proof, export."""

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sealguard import output
from sealguard.cli.fleet_logs import FleetLog, fleet_log_options
from sealguard.cli.root import cli, jobs_option, project_of, sealed
from sealguard.cpus import default_jobs
from sealguard.report import render
from sealguard.report.reporters import reporter

if TYPE_CHECKING:
    from sealguard.ledger import Ledger


def _ledger(ctx: click.Context, folder: Path | None = None) -> "Ledger":
    """The project's ledger, or a copied or exported one (with its witness/ when it has one)."""
    from sealguard.ledger import Ledger

    if folder is not None:
        exported = folder.resolve() / "witness"
        return Ledger.in_folder(folder.resolve(), witness=exported if exported.is_dir() else None)
    project, config = sealed(ctx)
    return project.ledger(config)


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2026-11-26T18:00:00Z"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@cli.group()
def log() -> None:
    """The governance log: verify it, read it, prove an event is in it, export it."""


def _only_regular_files(ledger_: "Ledger") -> None:
    """A copied log whose files are folders, pipes or devices: one line, never a hang."""
    from sealguard.errors import DataError
    from sealguard.filekind import check_regular

    for path in (ledger_.log, ledger_.checkpoint, ledger_.history):
        try:
            check_regular(path)
        except FileNotFoundError:
            continue  # the audit says what is missing
        except OSError as exc:
            raise DataError(f"{path}: {exc.strerror}") from None


@log.command("verify")
@fleet_log_options
@jobs_option
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON report.")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Verify a copied or exported log folder instead of the project's "
    "(held against its witness/ folder when it has one).",
)
@click.option(
    "--witness", "witness", type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Hold the log against this witness folder instead.",
)  # fmt: skip
@click.option(
    "--full", is_flag=True,
    help="Also check again every line that a verified checkpoint covers (canonical JSON, seq, "
    "type, ts); by default only the lines after the last checkpoint are.",
)  # fmt: skip
@click.pass_context
def log_verify(
    ctx: click.Context,
    *,
    jobs: int | None,
    as_json: bool,
    folder: Path | None,
    witness: Path | None,
    full: bool,
    fleet: FleetLog | None,
) -> int:
    """Recompute the log's tree; hold it against every checkpoint and its witness (INV-D-03)."""
    from dataclasses import replace

    from sealguard.errors import IntegrityError, UsageError
    from sealguard.ledger import audit

    if fleet is not None:  # the rows of the fleet database, always checked in full
        if folder or witness:
            raise UsageError("--url reads the fleet database: no --dir or --witness with it")
        from sealguard.cli.fleet_audit import verify_log

        return verify_log(ctx, fleet, jobs, as_json)
    ledger_ = _ledger(ctx, folder)
    if witness is not None:
        ledger_ = replace(ledger_, witness=witness.resolve())
    if folder is not None:
        _only_regular_files(ledger_)
    if not ledger_.log.exists() and not ledger_.checkpoint.exists():
        if folder is None and project_of(ctx).baseline_file.exists():
            raise IntegrityError(
                f"{ledger_.log}: INCIDENT (INV-D-03): the governance log is gone, "
                "yet the build was sealed"
            )
        raise UsageError(f"{ledger_.log}: no governance log yet; `sealguard seal` starts it")
    report = audit(ledger_, jobs or default_jobs(), full=full)
    output.write(reporter(as_json).log(report))
    return int(render.log_exit_code(report))


@log.command("show")
@click.option("--since", callback=_since, help="Only events at or after this UTC time (ISO 8601).")
@click.option(
    "--type",
    "event_type",
    help="Only events of this type (e.g. baseline_sealed; README lists them).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the events as a JSON array.")
@click.option(
    "--dir", "folder", type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Read a copied or exported log folder instead of the project's.",
)  # fmt: skip
@click.pass_context
def log_show(
    ctx: click.Context,
    since: datetime | None,
    event_type: str | None,
    as_json: bool,
    folder: Path | None,
) -> int:
    """Print the log's events, one per line (or as JSON)."""
    from sealguard.event_types import check_type
    from sealguard.ledger import read_events
    from sealguard.ledger.reader import select

    ledger_ = _ledger(ctx, folder)
    journaled = read_events(ledger_.log) if ledger_.log.exists() else []
    check_type(event_type, journaled)
    events = select(journaled, since, event_type)
    if events or as_json:
        output.write(reporter(as_json).events(events))
    return 0


@log.command("prove")
@fleet_log_options
@click.argument("seq", type=click.IntRange(min=0))
@click.option(
    "-o",
    "--output",
    "target",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the bundle here.",
)
@click.pass_context
def log_prove(ctx: click.Context, seq: int, target: Path | None, fleet: FleetLog | None) -> int:
    """Print an inclusion proof of event SEQ against the latest checkpoint (RFC 9162)."""
    import json

    from sealguard.cli.fleet_audit import prove_log
    from sealguard.ledger.proof import prove

    bundle = prove_log(ctx, fleet, seq) if fleet else prove(_ledger(ctx), seq)
    if target is None:
        output.write_json(bundle)
    else:
        target.write_text(json.dumps(bundle, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        output.write(f"wrote the inclusion proof of seq {seq} to {target}")
    return 0


@log.command("check-proof")
@click.argument(
    "bundle", type=click.Path(path_type=Path, exists=True, allow_dash=True), default="-"
)
@click.option(
    "--key", help="The log's verifier key (name+keyid+base64), obtained from a source you trust."
)
def log_check_proof(bundle: Path, key: str | None) -> int:
    """Check an inclusion proof offline (from a file, or - for stdin); exit 0 valid, 3 not."""
    from sealguard.errors import DataError
    from sealguard.filekind import read_regular
    from sealguard.ledger.proof import check_proof, parse_bundle

    stdin = str(bundle) == "-"
    try:
        data = sys.stdin.buffer.read() if stdin else read_regular(bundle)
    except OSError as exc:
        raise DataError(f"{bundle}: {exc.strerror}") from None
    check = check_proof(parse_bundle(data, "<stdin>" if stdin else str(bundle)), key)
    output.write(render.proof_text(check))
    return 0 if check.valid else 3


@log.command("export")
@fleet_log_options
@click.option(
    "-o", "--output", "target", required=True, type=click.Path(path_type=Path, dir_okay=False),
    help="The .tar.gz file to write.",
)  # fmt: skip
@click.pass_context
def log_export(ctx: click.Context, target: Path, fleet: FleetLog | None) -> int:
    """Write the log, every checkpoint, the public key and an auditor's README to a .tar.gz."""
    from sealguard.cli.fleet_audit import export_log
    from sealguard.errors import EvidenceWriteError
    from sealguard.ledger import read_events
    from sealguard.ledger.export import export
    from sealguard.report.render import decisions_text

    try:
        if fleet is not None:
            names = export_log(ctx, fleet, target)
        else:
            ledger_ = _ledger(ctx)
            events = read_events(ledger_.log) if ledger_.log.exists() else []
            names = export(ledger_, target, {"DECISIONS.txt": decisions_text(events)})
    except OSError as exc:
        raise EvidenceWriteError(f"{target}: cannot write the export ({exc.strerror})") from None
    output.write(f"wrote {target}: {', '.join(names)}")
    return 0
