"""`sealguard verify`: the sealed build and its baseline, checked against the log.

INV-D-01: BASELINE_REF.sha256 is byte-identical to the one the log last recorded as sealed.
INV-D-02: every sealed file is there with its hash and mode, every symlink with its target, and
nothing was added under the sealed paths.
"""

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sealguard import ledger
from sealguard.config import Config
from sealguard.errors import DataError, UsageError
from sealguard.filekind import read_regular
from sealguard.globs import make_selector
from sealguard.names import escape
from sealguard.project import Project
from sealguard.runtime import check_runtime_area, check_snapshots, present_files
from sealguard.seal.hashing import Progress, checking_entries, collect_checks
from sealguard.seal.integrity import Difference, FileState, find_added
from sealguard.seal.manifest import Entry, Manifest, parse_manifest
from sealguard.seal.scan import scan
from sealguard.state import baseline_record

if TYPE_CHECKING:
    from sealguard.ledger.auditor import LogReport


@dataclass
class VerifyReport:
    baseline: str
    baseline_sha256: str | None = None
    recorded_sha256: str | None = None
    files: int = 0
    symlinks: int = 0
    governance_files: int = 0  # the config and behaviour baseline files the manifest lists
    bytes: int = 0
    differences: list[Difference] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    log: "LogReport | None" = None

    @property
    def intact(self) -> bool:
        return not self.differences and not self.not_checked


@dataclass
class _LogRead:
    """The governance log read once, up front: the runtime files listed first (see
    runtime.py), then the events, which the baseline check needs before the tree is hashed."""

    present: dict[str, Path] = field(default_factory=dict)
    events: list[ledger.Event] | None = None
    gone: bool = False
    unreadable: str = ""


def _read_log(ledger_: ledger.Ledger) -> _LogRead:
    if not ledger_.log.is_file():
        return _LogRead(gone=True)
    present = present_files(ledger_)  # listed before the log is read: see runtime.py
    try:
        return _LogRead(present, ledger.read_events(ledger_.log))
    except DataError as exc:
        return _LogRead(present, unreadable=exc.message)


def _check_log(project: Project, ledger_: ledger.Ledger, log: _LogRead, jobs: int) -> VerifyReport:
    """INV-D-03, INV-D-04, INV-D-07 and INV-D-06, in a report of their own. Their modules
    (the audit, the decisions, cryptography) are imported here, while the tree is hashed."""
    from sealguard.decide.audit import check_decisions
    from sealguard.ledger.view import leaves

    found = VerifyReport(baseline="")
    shown = project.display(ledger_.log)
    if log.gone:
        # sealed (the baseline exists) but the log is gone: never "unsealed"
        found.differences.append(
            Difference("removed", shown, "the governance log is gone", "INV-D-03")
        )
        found.not_checked.append("INV-D-04: without the governance log, nothing explains it")
        return found
    found.log = ledger.audit(ledger_, jobs)
    found.differences += [
        Difference("modified", shown, p.message, "INV-D-03") for p in found.log.problems
    ]
    if log.events is None:
        found.not_checked.append(
            f"INV-D-01, INV-D-04: the governance log cannot be read ({log.unreadable})"
        )
        return found
    where = project.display(ledger_.folder)
    found.differences += check_runtime_area(ledger_, log.events, where, log.present)
    found.differences += check_snapshots(project.root, log.events)
    found.differences += check_decisions(project.root, log.events, leaves(ledger_.log))
    return found


def _put_first(log: VerifyReport, report: VerifyReport) -> None:
    """The log's findings lead the report, as they always have."""
    report.log = log.log
    report.differences[:0] = log.differences
    report.not_checked[:0] = log.not_checked


def _check_baseline(
    project: Project, events: list[ledger.Event] | None, report: VerifyReport
) -> bytes | None:
    """INV-D-01; returns the baseline's bytes when they can be trusted."""
    name = report.baseline
    record = baseline_record(events) if events is not None else None
    report.recorded_sha256 = record["baseline_sha256"] if record else None
    try:
        data = read_regular(project.baseline_file)  # a FIFO put there must not hang verify
    except FileNotFoundError:
        report.differences.append(Difference("removed", name, "the baseline is gone", "INV-D-01"))
        return None
    except OSError as exc:
        report.differences.append(Difference("unreadable", name, str(exc.strerror), "INV-D-01"))
        return None
    report.baseline_sha256 = hashlib.sha256(data).hexdigest()
    if record is None:
        detail = "no sealing of this baseline is recorded in the governance log"
    elif report.baseline_sha256 != report.recorded_sha256:
        detail = "differs from the baseline the governance log recorded as sealed"
    else:
        return data
    report.differences.append(Difference("modified", name, detail, "INV-D-01"))
    return None


def _counts(entries: tuple[Entry, ...], report: VerifyReport) -> None:
    own = sum(1 for e in entries if e.path.startswith("governance/"))
    report.files = sum(1 for e in entries if e.kind == "file") - own
    report.symlinks = len(entries) - report.files - own
    report.governance_files = own


def _added(root_fd: int, known: set[str], present: list[FileState]) -> list[Difference]:
    """Paths under the sealed globs that the manifest lacks, and folders that cannot be listed."""
    added = find_added(known, (_with_target(root_fd, s) for s in present if s.kind != "unreadable"))
    return added + [
        Difference("unreadable", escape(s.path), f"folder cannot be listed: {s.error}")
        for s in present
        if s.kind == "unreadable"
    ]


def _with_target(root_fd: int, state: FileState) -> FileState:
    """An added symlink with its target, as the report names it (it is never followed)."""
    if state.kind != "symlink":
        return state
    try:
        return FileState(state.path, "symlink", target=os.readlink(state.path, dir_fd=root_fd))
    except OSError:
        return state  # gone or replaced meanwhile: still an added path, named without target


def _check_tree(
    project: Project,
    manifest: Manifest,
    report: VerifyReport,
    jobs: int,
    progress: Progress | None,
    *,
    meanwhile: Callable[[], None] = lambda: None,
) -> None:
    """INV-D-02. Workers hash the sealed files; this process meanwhile does `meanwhile`, walks
    the tree for added paths and counts, so that only the hashing is left when it waits."""
    entries = manifest.entries
    selector = make_selector(manifest.paths, manifest.exclude)
    root_fd = os.open(project.root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with checking_entries(root_fd, entries, jobs) as results:
            meanwhile()
            known = {e.path for e in entries}
            added = _added(root_fd, known, scan(project.root, selector, known))
            _counts(entries, report)
            report.bytes, differences = collect_checks(results, progress)
    finally:
        os.close(root_fd)
    # the config and the behaviour baseline are part of the baseline itself
    report.differences += [
        Difference(d.change, d.path, d.detail, "INV-D-01")
        if d.path.startswith("governance/")
        else d
        for d in differences
    ]
    report.differences += added


def tree_differences(project: Project, manifest: Manifest, jobs: int) -> list[Difference]:
    """INV-D-02 against `manifest` (a proposal's, for a planned change): what differs."""
    report = VerifyReport(baseline="")
    _check_tree(project, manifest, report, jobs, None)
    return report.differences


def verify(
    project: Project,
    config: Config,
    jobs: int,
    start_progress: Callable[[int], Progress | None] | None = None,
) -> VerifyReport:
    """Check INV-D-03 and INV-D-04 (the log and the runtime area), INV-D-01, then INV-D-02;
    `start_progress(total)` gives a per-span progress callback. The log is read first, as
    the baseline's trust rests on it; it is audited while the workers hash the tree."""
    if not project.baseline_file.exists() and not project.log_file.exists():
        raise UsageError(f"{project.root}: not sealed yet; run `sealguard seal` first")
    report = VerifyReport(baseline=project.display(project.baseline_file))
    ledger_ = project.ledger(config)
    log = _read_log(ledger_)
    data = _check_baseline(project, log.events, report)
    if data is None:
        report.not_checked.append(
            "INV-D-02: the baseline cannot be trusted, so the tree was not compared with it"
        )
        _put_first(_check_log(project, ledger_, log, jobs), report)
        return report
    manifest = parse_manifest(data, report.baseline)
    progress = start_progress(len(manifest.entries)) if start_progress else None
    checked: list[VerifyReport] = []

    def check_log() -> None:  # in this process, while the workers hash
        checked.append(_check_log(project, ledger_, log, jobs))

    _check_tree(project, manifest, report, jobs, progress, meanwhile=check_log)
    _put_first(checked[0], report)
    return report
