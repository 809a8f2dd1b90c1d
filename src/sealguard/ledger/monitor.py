"""The witness's own check, run on its machine: every log it keeps must still extend it.

A project wiped and re-sealed from scratch (its witness line removed first) keeps nothing that
remembers the old log; only the witness does. For every log the witness keeps, the log found at
the folder it was enrolled from is audited against the witness: a log gone, one under another
origin (re-sealed or re-keyed), one cut back or rewritten is an INCIDENT.
"""

from dataclasses import dataclass
from pathlib import Path

from sealguard.errors import UsageError
from sealguard.ledger import files
from sealguard.ledger.auditor import LogReport, audit
from sealguard.ledger.layout import Ledger
from sealguard.ledger.problem import Problem
from sealguard.ledger.witness import FolderWitness, LogRecord


@dataclass(frozen=True)
class Kept:
    """One log the witness keeps, and the first reason it no longer extends it (if any)."""

    project: str  # the log folder it was enrolled from
    origin: str
    size: int  # lines the witness cosigned
    problem: str | None


RANK = {"WITNESS": 0, "TRUNCATION": 1, "FORK": 1, "REFUSED": 2}


def _reason(report: LogReport) -> str | None:
    """What the witness itself sees first (the log re-sealed, re-keyed, cut back, rewritten, a
    refusal); then whatever else breaks the log."""
    ranked: list[Problem] = sorted(
        report.problems, key=lambda p: (RANK.get(p.kind, 3), p.line is None, p.line or 0)
    )
    return ranked[0].message if ranked else None


def _check(folder: Path, record: LogRecord, jobs: int) -> Kept:
    ledger = Ledger.in_folder(Path(record.project), witness=folder)
    if not ledger.log.exists() and not ledger.log.is_symlink():
        gone = f"{files.shown(ledger.log)} is gone: the project's log no longer exists"
        return Kept(record.project, record.origin, record.size, gone)
    report = audit(ledger, jobs)
    return Kept(record.project, record.origin, record.size, _reason(report))


def check(folder: Path, jobs: int = 1) -> list[Kept]:
    """Every log the witness in `folder` keeps, checked against the project it names."""
    witness = FolderWitness(folder)
    if witness.identity() is None:
        raise UsageError(
            f"{folder}: no witness here (no witness.vkey); `sealguard witness init {folder}` "
            "makes one"
        )
    return [_check(folder, record, jobs) for record in witness.records()]
