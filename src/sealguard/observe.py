"""`sealguard observe`: one observation, exactly as the runbook orders it.

Refuse when frozen or halted (and journal the attempt); check the invariants; run every probe
exactly once; check the invariants again; classify with the pure rule table; keep the evidence
(a snapshot), the diff with the baseline and, on drift or incident, a full log export; write
the RUNTIME_EVENT and journal it. The state (FROZEN, HALTED) follows from the journaled event.
"""

import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sealguard import __version__, behaviour, diffing, environment, ledger, runtime
from sealguard.classify import LEVEL, Classification, classify
from sealguard.config import Config
from sealguard.errors import RefusedError, UsageError
from sealguard.events import (
    ProbeRecord,
    RuntimeEvent,
    SnapshotRecord,
    Step,
    Violation,
    new_id,
    to_data,
)
from sealguard.facts import ObservationFacts
from sealguard.facts import Violation as FactViolation
from sealguard.ledger.export import export
from sealguard.probes.run import ProbeEvidence, run_probe
from sealguard.project import Project
from sealguard.state import NEXT_STEP, ObservationState, fold
from sealguard.verify import verify


@dataclass(frozen=True)
class Observation:
    event: RuntimeEvent
    seq: int  # the runtime_event's position in the log

    @property
    def exit_code(self) -> int:
        return {"STABLE": 0, "TOOLING_DRIFT": 1, "PRODUCT_DRIFT": 2, "INCIDENT": 3}[
            self.event.classification
        ]


def _refuse_if_stopped(ledger_: ledger.Ledger, state: ObservationState) -> None:
    if state.mode == "UNSEALED":
        raise UsageError("nothing is sealed yet; run `sealguard seal` first")
    if state.mode in ("FROZEN", "HALTED"):
        ledger.append(
            ledger_,
            "observation_refused",
            {
                "state": state.mode,
                "since": state.since,
                "because": state.because,
                "reason": state.reason,
            },
        )
        raise RefusedError(
            f"observation is {state.mode} since {state.since} ({state.because}: {state.reason}); "
            f"the attempt was refused and journaled. Next: {state.next_step}"
        )


def _violations(project: Project, config: Config, jobs: int) -> tuple[FactViolation, ...]:
    report = verify(project, config, jobs)
    found = [FactViolation(d.invariant, d.change, d.path, d.detail) for d in report.differences]
    found += [
        FactViolation("INV-D-01", "not checked", report.baseline, r) for r in report.not_checked
    ]
    return tuple(found)


def _probe_record(evidence: ProbeEvidence) -> ProbeRecord:
    f = evidence.facts
    b = f.baseline
    counts: dict[str, int] = {}
    for status in f.tests.values():
        counts[status] = counts.get(status, 0) + 1
    return ProbeRecord(
        name=f.name, kind=f.kind, exit_code=f.exit_code, expect_exit=f.expect_exit, timed_out=f.timed_out,
        signal=f.signal, duration_ms=int(evidence.run.seconds * 1000), verdict=f.verdict,
        baseline_verdict=b.verdict if b else None, output_sha256=f.output_sha256,
        baseline_output_sha256=b.output_sha256 if b else None, report_state=f.report_state,
        report_problem=f.report_problem, test_count=f.test_count,
        baseline_test_count=b.test_count if b else None, status_counts=counts,
        status_changes=diffing.status_changes(b.tests, f.tests) if b and f.tests else [],
        format_changed=bool(b and b.format != f.format), tool_version=f.tool_version,
        baseline_tool_version=b.tool_version if b else None, signatures=list(f.signatures),
        console={k: getattr(f.console, k) for k in ("passed", "failed", "errors", "skipped")} if f.console.found else None,
        stdout_sha256=evidence.stdout_sha256, stderr_sha256=evidence.stderr_sha256,
    )  # fmt: skip


def _lines(path: Path | None) -> list[str]:
    return path.read_text("utf-8", "replace").splitlines() if path and path.exists() else []


def _diff_text(project: Project, evidence: ProbeEvidence, record: ProbeRecord) -> bytes:
    base = behaviour.probe_folder(project.governance, evidence.facts.name) / "output.normalized"
    now = evidence.files.get("output.normalized")
    lines = diffing.unified(
        _lines(base), _lines(now), ("baseline/output.normalized", "observed/output.normalized")
    )
    return diffing.render(evidence.facts.name, record.status_changes, lines).encode()


def _wants_snapshot(klass: str, state: ObservationState, now: datetime) -> bool:
    return klass != "STABLE" or state.last_stable_snapshot_day != now.strftime("%Y-%m-%d")


def _snapshot(
    project: Project, ledger_: ledger.Ledger, snapshot_id: str, evidence: list[ProbeEvidence],
    records: list[ProbeRecord], facts: ObservationFacts,
) -> SnapshotRecord:  # fmt: skip
    folder = ledger_.folder / "snapshots" / snapshot_id
    files: dict[Path, bytes | Path] = {}
    for item, record in zip(evidence, records, strict=True):
        for name, path in item.files.items():
            files[folder / item.facts.name / name] = path
        files[folder / item.facts.name / "diff.txt"] = _diff_text(project, item, record)
    tools = {item.facts.name: item.facts.tool_version for item in evidence}
    files[folder / "environment.json"] = json.dumps(
        environment.describe(project.root, tools), indent=1
    ).encode()
    violations = [v.__dict__ for v in (*facts.before, *facts.after)]
    files[folder / "sealed-differences.json"] = json.dumps(violations, indent=1).encode()
    records_written = runtime.write_files(ledger_, files)
    ledger.append_many(ledger_, records_written)
    hashes = {
        path.relative_to(folder).as_posix(): rec[1]["sha256"]
        for path, rec in zip(files, records_written, strict=True)
    }
    return SnapshotRecord(snapshot_id=snapshot_id, path=project.display(folder), files=hashes)


def _event(
    project: Project, state: ObservationState, classification: Classification, facts: ObservationFacts,
    records: list[ProbeRecord], snapshot: SnapshotRecord | None, event_id: str, now: datetime,
) -> RuntimeEvent:  # fmt: skip
    klass = classification.klass
    after = {"PRODUCT_DRIFT": "FROZEN", "INCIDENT": "HALTED"}.get(klass, state.mode)
    if state.mode == "HALTED":
        after = "HALTED"
    actions = ["snapshot"] if snapshot else []
    actions += ["diff"] if snapshot and records else []
    actions += {"PRODUCT_DRIFT": ["log export", "freeze"], "INCIDENT": ["log export", "halt"]}.get(
        klass, []
    )
    exported = (
        f"{project.display(project.runtime)}/exports/EXP_{event_id[4:]}.tar.gz"
        if klass in ("PRODUCT_DRIFT", "INCIDENT")
        else None
    )
    return RuntimeEvent(
        event_id=event_id, classification=klass, severity=LEVEL[klass],  # type: ignore[arg-type]
        observed_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"), commit=environment.commit(project.root),
        baseline_sha256=state.baseline_sha256, state_before=state.mode, state_after=after,  # type: ignore[arg-type]
        why=[Step(rule=s.rule, klass=s.klass, matched=s.matched, detail=s.detail, probe=s.probe) for s in classification.path],
        invariants_before=[Violation(**v.__dict__) for v in facts.before],
        invariants_after=[Violation(**v.__dict__) for v in facts.after],
        probes_run=facts.probes_run, probes=records, snapshot=snapshot, export=exported,
        actions=actions, next=NEXT_STEP[after], sealguard_version=__version__,
    )  # fmt: skip


def _run_probes(project: Project, config: Config, work: Path) -> list[ProbeEvidence]:
    return [
        run_probe(p, project.root, work, behaviour.load(project.governance, p.name))
        for p in config.probe
    ]


def observe(
    project: Project, config: Config, jobs: int, now: datetime | None = None
) -> Observation:
    """Observe once; returns the event as journaled. Raises RefusedError when frozen or halted."""
    ledger_ = project.ledger(config)
    state = fold(ledger.read_events(ledger_.log)) if ledger_.log.exists() else ObservationState()
    _refuse_if_stopped(ledger_, state)
    now = now or datetime.now(UTC)
    before = _violations(project, config, jobs)
    work = Path(tempfile.mkdtemp(prefix="sealguard-observe-"))
    try:
        evidence = [] if before else _run_probes(project, config, work)
        after = _violations(project, config, jobs) if evidence else ()
        facts = ObservationFacts(
            before, after, tuple(e.facts for e in evidence), probes_run=not before
        )
        classification = classify(facts)
        records = [_probe_record(e) for e in evidence]
        event_id = new_id("RTE", now)
        snapshot = None
        if _wants_snapshot(classification.klass, state, now):
            snapshot = _snapshot(project, ledger_, "SNP_" + event_id[4:], evidence, records, facts)
        event = _event(project, state, classification, facts, records, snapshot, event_id, now)
        data = to_data(event)
        event_file = ledger_.folder / "events" / f"{event_id}.json"
        written = runtime.write_files(
            ledger_, {event_file: json.dumps(data, indent=1, sort_keys=True).encode()}
        )
        journaled = ledger.append_many(ledger_, [*written, ("runtime_event", data)])[-1]
        if event.export:
            archive = project.root / event.export
            archive.parent.mkdir(parents=True, exist_ok=True)
            export(ledger_, archive)
            ledger.append_many(ledger_, runtime.describe_files(ledger_, [archive]))
        return Observation(event, journaled["seq"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
