"""`sealguard verify`: the sealed build and its baseline, checked against the log.

INV-D-01: BASELINE_REF.sha256 is byte-identical to the one the log last recorded as sealed.
INV-D-02: every sealed file is there with its hash and mode, every symlink with its target, and
nothing was added under the sealed paths. The log, the runtime area and the decisions (INV-D-03,
04, 06, 07) are checked while the workers hash the tree: from their last verified state unless
a full check is asked for or due (ledger/incremental.py, runtime_index.py).
"""

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sealguard import ledger
from sealguard.config import Config
from sealguard.durations import parse_duration
from sealguard.errors import DataError, UsageError
from sealguard.filekind import read_regular
from sealguard.globs import make_selector
from sealguard.ledger.incremental import FULL, Policy
from sealguard.names import escape
from sealguard.project import Project
from sealguard.seal.hashing import Progress, checking_entries, collect_checks
from sealguard.seal.integrity import Difference, FileState, find_added
from sealguard.seal.manifest import Entry, Manifest, parse_manifest
from sealguard.seal.scan import scan
from sealguard.state import baseline_record

if TYPE_CHECKING:
    from sealguard import runtime_index
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
    log_full: bool = True  # the log was audited whole (False: from its last verified state)
    area: "runtime_index.Index | None" = None  # the runtime index as this check left it
    log_why_full: str = ""

    @property
    def intact(self) -> bool:
        return not self.differences and not self.not_checked


def audit_policy(config: Config, full: bool) -> Policy:
    if full:
        return FULL
    return Policy(config.ledger.full_audit_every, parse_duration(config.ledger.full_audit_after))


def _baseline_events(ledger_: ledger.Ledger) -> list[ledger.Event] | None:
    """The events the baseline record is found among, read before anything else; None when
    the log is gone or cannot be read (the log's check says which)."""
    from sealguard.ledger.journal import notable_events

    if not ledger_.log.is_file():
        return None
    try:
        return notable_events(ledger_)
    except DataError:
        return None


def _check_log(project: Project, ledger_: ledger.Ledger, jobs: int, policy: Policy) -> VerifyReport:
    """INV-D-03, 04, 06 and 07, in a report of their own. Their modules (the audit, the
    decisions, cryptography) are imported here, while the tree is hashed."""
    from sealguard import runtime_index
    from sealguard.ledger.incremental import audit_log, signing_key
    from sealguard.runtime import present_files

    report = VerifyReport(baseline="")
    shown = project.display(ledger_.log)
    if not ledger_.log.is_file():
        # sealed (the baseline exists) but the log is gone: never "unsealed"
        report.differences.append(
            Difference("removed", shown, "the governance log is gone", "INV-D-03")
        )
        report.not_checked.append("INV-D-04: without the governance log, nothing explains it")
        return report
    key = signing_key(ledger_)
    public = key.public_key().public_bytes_raw() if key else None
    area = runtime_index.load(ledger_, public) if public and policy.every > 0 else None
    present = None if area else present_files(ledger_)  # before the log is read: runtime.py
    audited = audit_log(ledger_, jobs, policy)
    report.log, report.log_full = audited.report, audited.full
    report.log_why_full = audited.why_full
    report.differences += [
        Difference("modified", shown, p.message, "INV-D-03") for p in report.log.problems
    ]
    try:
        if area and not audited.full and not report.differences:
            _check_area_since(project, ledger_, report, area)
        else:
            _check_area(project, ledger_, report, present or present_files(ledger_))
    except DataError as exc:
        report.not_checked.append(
            f"INV-D-01, INV-D-04: the governance log cannot be read ({exc.message})"
        )
        return report
    if report.differences:
        runtime_index.forget(ledger_)  # checked in full until the area is found whole again
    elif key is not None and report.area is not None:
        runtime_index.save(ledger_, report.area, key)
    return report


def _check_area(
    project: Project, ledger_: ledger.Ledger, report: VerifyReport, present: dict[str, Path]
) -> None:
    """INV-D-04, 06 and 07 in full: every runtime file hashed, every decision checked. The
    runtime index is built again from what this check found."""
    from sealguard import runtime_index
    from sealguard.decide.audit import check_decisions
    from sealguard.decide.review_audit import check_reviews
    from sealguard.ledger import files
    from sealguard.ledger.reader import parse_events
    from sealguard.ledger.view import leaves
    from sealguard.runtime import check_runtime_area, check_snapshots, recorded_files

    data = files.read_bytes(ledger_.log)  # never through a symlink
    events = parse_events(data, ledger_.log)
    end = data.rfind(b"\n") + 1
    where = project.display(ledger_.folder)
    report.differences += check_runtime_area(ledger_, events, where, present)
    report.differences += check_snapshots(project.root, events)
    bound = leaves(ledger_.log)
    report.differences += check_decisions(project.root, events, bound)
    report.differences += check_reviews(events, bound)
    report.area = runtime_index.build(ledger_, recorded_files(events), data[:end].count(b"\n"), end)


def _check_area_since(
    project: Project, ledger_: ledger.Ledger, report: VerifyReport, area: "runtime_index.Index"
) -> None:
    """INV-D-04, 06 and 07 for what moved since the runtime index: the folders that changed or
    that new lines write to, the new runtime events' snapshots, the decisions against the tail
    (the leaves are read only when a decision is new). Anything found is found again, and
    described, by the full check."""
    from sealguard import runtime_index
    from sealguard.decide.audit import check_decisions
    from sealguard.decide.review_audit import check_reviews
    from sealguard.ledger.journal import notable_events
    from sealguard.ledger.view import Leaves, leaves
    from sealguard.runtime import expected_files, present_files

    events = notable_events(ledger_)
    tail = runtime_index.read_tail(ledger_, area)
    where = project.display(ledger_.folder)
    checked = area.lines
    try:
        stale = bool(
            runtime_index.check(
                ledger_, area, expected_files(events), tail, shown=where, root=project.root
            )
        )
    except runtime_index.Stale:
        stale = True
    if stale:  # confirmed and described by the full check, so the two never disagree
        _check_area(project, ledger_, report, present_files(ledger_))
        return
    new = any(
        e.get("type") in ("decision", "audit_review") and int(e.get("seq", 0)) >= checked
        for e in events
    )
    bound = leaves(ledger_.log) if new else Leaves(())
    report.differences += check_decisions(
        project.root, events, bound, checked_before=0 if new else checked
    )
    report.differences += check_reviews(events, bound, checked_before=0 if new else checked)
    runtime_index.advance(area, tail)
    report.area = area


def _put_first(log: VerifyReport, report: VerifyReport) -> None:
    """The log's findings lead the report, as they always have."""
    report.log, report.log_full, report.log_why_full = log.log, log.log_full, log.log_why_full
    report.area = log.area
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
    *,
    full: bool = True,
) -> VerifyReport:
    """Check INV-D-01, then INV-D-02 while the log, the runtime area and the decisions are
    checked (INV-D-03, 04, 06, 07); `start_progress(total)` gives a per-span progress callback.
    Unless `full`, the log and the runtime area are checked from their last verified state when
    the config's policy allows it."""
    if not project.baseline_file.exists() and not project.log_file.exists():
        raise UsageError(f"{project.root}: not sealed yet; run `sealguard seal` first")
    report = VerifyReport(baseline=project.display(project.baseline_file))
    ledger_ = project.ledger(config)
    policy = audit_policy(config, full)
    data = _check_baseline(project, _baseline_events(ledger_), report)
    if data is None:
        report.not_checked.append(
            "INV-D-02: the baseline cannot be trusted, so the tree was not compared with it"
        )
        _put_first(_check_log(project, ledger_, jobs, policy), report)
        return report
    manifest = parse_manifest(data, report.baseline)
    progress = start_progress(len(manifest.entries)) if start_progress else None
    checked: list[VerifyReport] = []

    def check_log() -> None:  # in this process, while the workers hash
        checked.append(_check_log(project, ledger_, jobs, policy))

    _check_tree(project, manifest, report, jobs, progress, meanwhile=check_log)
    _put_first(checked[0], report)
    return report
