"""`sealguard observe`: one observation, exactly as the runbook orders it.

Refuse when frozen or halted (and journal the attempt); check the invariants; run every probe
exactly once; check the invariants again; classify with the pure rule table; keep the evidence
(a snapshot), the diff with the baseline and, on drift or incident, a full log export; write
the RUNTIME_EVENT and journal it. The state (FROZEN, HALTED) follows from the journaled event.
"""

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sealguard import __version__, fleet, ledger, runtime
from sealguard.classes import CLASSES, Mode
from sealguard.config import Config, ProbeConfig
from sealguard.decide import incidents, proposals
from sealguard.decide.installing import install_proposal
from sealguard.errors import IntegrityError, RefusedError, UsageError
from sealguard.escalation import dispatch
from sealguard.escalation.outbox import AttemptRecord
from sealguard.events import (
    ProbeRecord,
    Purpose,
    RuntimeEvent,
    SnapshotRecord,
    Step,
    Survivor,
    Violation,
    iso_utc,
    new_id,
    to_data,
)
from sealguard.facts import ObservationFacts, ProbeFacts
from sealguard.facts import Violation as FactViolation
from sealguard.ledger.export import export
from sealguard.ledger.journal import notable_events
from sealguard.lock import observer_lock
from sealguard.observe import diffing, environment, workdir
from sealguard.observe.classify import Classification, classify
from sealguard.observe.status import current_state
from sealguard.probes.run import ProbeEvidence, run_probe
from sealguard.project import BASELINE_NAME, Project
from sealguard.report.render import decisions_text
from sealguard.seal import behaviour, progress, versions
from sealguard.seal.settings import config_in_force
from sealguard.seal.verify import tree_differences, verify
from sealguard.state import NEXT_STEP, ObservationState


@dataclass(frozen=True)
class Observation:
    event: RuntimeEvent
    seq: int  # the runtime_event's position in the log
    escalation_id: str | None = None
    attempts: tuple[AttemptRecord, ...] = ()  # delivery attempts made right after it

    @property
    def exit_code(self) -> int:
        return int(CLASSES[self.event.classification].exit_code)


def _refuse(
    ledger_: ledger.Ledger,
    state: ObservationState,
    found: tuple[FactViolation, ...],
    awaited: bool = False,
) -> None:
    """Journal a refused attempt (INV-D-05), with what the invariant checks found meanwhile.

    Returns (for the caller to journal an INCIDENT) only when FROZEN met a violation."""
    ledger.append(
        ledger_,
        "observation_refused",
        {
            "state": state.mode,
            "since": state.since,
            "because": state.because,
            "reason": state.reason,
            "invariants": [f"{v.invariant} {v.change} {v.path}" for v in found[:20]],
            "invariants_violated": len(found),
        },
    )
    if found and state.mode == "FROZEN" and not awaited:
        return  # probes stay off; the violation itself is an INCIDENT: FROZEN -> HALTED
    checked = (
        "the build is still the version the decision left (restore it, then certify)"
        if awaited
        else f"the invariant checks found {len(found)} violation(s), journaled with the refusal"
        if found
        else "the invariants were checked and hold"
    )
    raise RefusedError(
        f"observation is {state.mode} since {state.since} ({state.because}: {state.reason}); "
        f"the attempt was refused and journaled; {checked}. Next: {state.next_step}"
    )


def _state(project: Project, ledger_: ledger.Ledger) -> ObservationState:
    state = current_state(project, ledger_)
    if state.mode == "UNSEALED":
        raise UsageError("nothing is sealed yet; run `sealguard seal` first")
    return state


def _violations(project: Project, config: Config, jobs: int) -> tuple[FactViolation, ...]:
    # its audit holds concurrent appends (`deliver`)
    report = verify(project, config, jobs, progress.hashing("checking"), full=False)
    found = [FactViolation(d.invariant, d.change, d.path, d.detail) for d in report.differences]
    found += [
        FactViolation("INV-D-01", "not checked", report.baseline, r) for r in report.not_checked
    ]
    return tuple(found)


def _console(facts: ProbeFacts) -> dict[str, int] | None:
    summary = facts.console
    return (
        {k: getattr(summary, k) for k in ("passed", "failed", "errors", "skipped")}
        if summary.found
        else None
    )


def _probe_record(evidence: ProbeEvidence) -> ProbeRecord:
    f = evidence.facts
    b = f.baseline
    counts: dict[str, int] = {}
    for status in f.tests.values():
        counts[status] = counts.get(status, 0) + 1
    return ProbeRecord(
        name=f.name, kind=f.kind, exit_code=f.exit_code, expect_exit=f.expect_exit,
        timed_out=f.timed_out, signal=f.signal, duration_ms=int(evidence.run.seconds * 1000),
        verdict=f.verdict, baseline_verdict=b.verdict if b else None,
        output_sha256=f.output_sha256, baseline_output_sha256=b.output_sha256 if b else None,
        report_state=f.report_state, report_problem=f.report_problem, test_count=f.test_count,
        baseline_test_count=b.test_count if b else None, status_counts=counts,
        status_changes=diffing.status_changes(b.tests, f.tests) if b and f.tests else [],
        format_changed=bool(b and b.format != f.format), tool_version=f.tool_version,
        baseline_tool_version=b.tool_version if b else None, signatures=list(f.signatures),
        console=_console(f), stdout_sha256=evidence.stdout_sha256,
        stderr_sha256=evidence.stderr_sha256,
        survivors=[Survivor(pid=s.pid, command=s.command) for s in f.survivors],
    )  # fmt: skip


def _diff_text(
    project: Project, evidence: ProbeEvidence, record: ProbeRecord, cause: diffing.Cause | None
) -> bytes:
    """The diff kept in the snapshot; outputs too large to diff in memory are only named."""
    base = behaviour.probe_folder(project.governance, evidence.facts.name) / "output.normalized"
    now = evidence.files.get("output.normalized", evidence.folder / "output.normalized")
    names = ("baseline/output.normalized", "observed/output.normalized")
    sizes = [p.stat().st_size for p in (base, now) if p is not None and p.exists()]
    if record.output_sha256 == record.baseline_output_sha256 or diffing.tooling_failed(
        record, cause
    ):
        lines: list[str] = []
    elif max(sizes, default=0) > diffing.DIFF_MAX_BYTES:
        lines = [
            f"(outputs of {max(sizes) >> 20} MiB are too large to diff here; "
            f"compare {names[1]} in this snapshot with governance/baseline/)"
        ]
    else:
        lines = diffing.unified(base, now, names, evidence.folder)
    return diffing.explain(record, cause, lines).encode()


@dataclass
class _Run:
    """One observation under way: what it found, and what it decided."""

    project: Project
    ledger: ledger.Ledger
    state: ObservationState
    now: datetime
    evidence: list[ProbeEvidence]
    facts: ObservationFacts
    classification: Classification
    event_id: str
    probes: tuple[ProbeConfig, ...] = ()
    purpose: Purpose = "observation"
    authorised_change: str | None = None

    @property
    def records(self) -> list[ProbeRecord]:
        return [_probe_record(e) for e in self.evidence]

    def wants_snapshot(self) -> bool:
        """Drift, incidents and certifications always keep evidence; STABLE once per UTC day."""
        today = self.now.strftime("%Y-%m-%d")
        return (
            self.classification.klass != "STABLE"
            or self.purpose == "certification"
            or self.state.last_stable_snapshot_day != today
        )

    def snapshot(self, records: list[ProbeRecord]) -> SnapshotRecord:
        snapshot_id = "SNP_" + self.event_id[4:]
        folder = self.project.snapshot_folder(snapshot_id)
        files: dict[Path, bytes | Path] = {}
        causes = {s.probe: s for s in self.classification.path if s.matched and s.probe}
        for item, record, probe in zip(self.evidence, records, self.probes, strict=True):
            for name, path in item.files.items():
                files[folder / item.facts.name / name] = path
            cause = causes.get(item.facts.name)
            files[folder / item.facts.name / "diff.txt"] = _diff_text(
                self.project, item, record, cause
            )
            # what the baseline would keep of this run, should an Architect accept it
            files[folder / item.facts.name / behaviour.OBSERVED] = behaviour.describe(probe, item)
        tools = {item.facts.name: item.facts.tool_version for item in self.evidence}
        described = environment.describe(self.project.root, tools)
        files[folder / "environment.json"] = json.dumps(described, indent=1).encode()
        violations = [v.__dict__ for v in (*self.facts.before, *self.facts.after)]
        files[folder / "sealed-differences.json"] = json.dumps(violations, indent=1).encode()
        written = runtime.write_files(self.ledger, files)
        ledger.append_many(self.ledger, written)
        hashes = {
            p.relative_to(folder).as_posix(): r[1]["sha256"]
            for p, r in zip(files, written, strict=True)
        }
        return SnapshotRecord(
            snapshot_id=snapshot_id, path=self.project.display(folder), files=hashes
        )

    def export_path(self) -> str | None:
        if CLASSES[self.classification.klass].stops is None:  # only a stop keeps the whole log
            return None
        return (
            f"{self.project.display(self.project.runtime)}/exports/EXP_{self.event_id[4:]}.tar.gz"
        )

    def next_step(self, after: Mode) -> str:
        incident = self.state.incident
        if self.purpose == "certification" and self.classification.klass == "STABLE" and incident:
            return (
                f"certified: close the incident (`sealguard incident close "
                f"{incident.incident_id}`, its report written), signed"
            )
        return NEXT_STEP[after]

    def event(self, records: list[ProbeRecord], snapshot: SnapshotRecord | None) -> RuntimeEvent:
        klass = self.classification.klass
        after: Mode = CLASSES[klass].stops or self.state.mode
        if self.state.mode == "HALTED":
            after = "HALTED"  # a certification while an incident is open: only closing resumes
        elif self.purpose == "certification" and klass == "STABLE":
            after = "OBSERVING"
        actions = (["snapshot", "diff"] if snapshot else []) + list(CLASSES[klass].actions)
        steps = [
            Step(rule=s.rule, klass=s.klass, matched=s.matched, detail=s.detail, probe=s.probe)
            for s in self.classification.path
        ]
        return RuntimeEvent(
            event_id=self.event_id, classification=klass, severity=CLASSES[klass].severity,
            observed_at=iso_utc(self.now),
            commit=environment.commit(self.project.root),
            baseline_sha256=self.state.baseline_sha256,
            state_before=self.state.mode, state_after=after, why=steps,
            invariants_before=[Violation(**v.__dict__) for v in self.facts.before],
            invariants_after=[Violation(**v.__dict__) for v in self.facts.after],
            probes_run=self.facts.probes_run, probes=records, snapshot=snapshot,
            export=self.export_path(), actions=actions, next=self.next_step(after),
            sealguard_version=__version__, purpose=self.purpose,
            authorised_change=self.authorised_change,
        )  # fmt: skip


def _run_probes(project: Project, config: Config, work: Path) -> list[ProbeEvidence]:
    if config.probe:
        fleet.release()  # no connection to a fleet database held while probes run
    evidence = []
    for p in config.probe:
        with progress.probe(p.name):  # shown on a terminal only (seal/progress.py)
            evidence.append(
                run_probe(
                    p,
                    project.root,
                    work,
                    behaviour.load(project.governance, p.name),
                    config.channels.secret_variables(),
                )
            )
    return evidence


def _export(ledger_: ledger.Ledger, archive: Path) -> None:
    """The full log export, written under a temp name and renamed into place."""
    temp = archive.with_name(f".{archive.name}{runtime.TEMP_MARK}{os.getpid()}")
    try:
        archive.parent.mkdir(parents=True, exist_ok=True)
        events = ledger.read_events(ledger_.log)
        export(ledger_, temp, {"DECISIONS.txt": decisions_text(events)})
        os.replace(temp, archive)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise runtime.cannot_write(archive, exc) from None


def _journal(run: _Run) -> Observation:
    """Snapshot, event file, the runtime_event itself, then the log export: each journaled."""
    records = run.records
    snapshot = run.snapshot(records) if run.wants_snapshot() else None
    event = run.event(records, snapshot)
    data = to_data(event)
    event_file = run.project.event_file(event.event_id)
    content = json.dumps(data, indent=1, sort_keys=True).encode()
    written = runtime.write_files(run.ledger, {event_file: content})
    journaled = ledger.append_many(run.ledger, [*written, ("runtime_event", data)])[-1]
    if event.export:
        archive = run.project.root / event.export
        runtime.announce(run.ledger, [archive])
        _export(run.ledger, archive)
        ledger.append_many(run.ledger, runtime.describe_files(run.ledger, [archive]))
    return Observation(event, journaled["seq"])


def _classified(
    project: Project,
    config: Config,
    jobs: int,
    state: ObservationState,
    *,
    now: datetime,
    before: tuple[FactViolation, ...],
    purpose: Purpose = "observation",
    authorised_change: str | None = None,
) -> Observation:
    """Run the probes (only when the invariants hold and observation is not stopped, or for a
    certification), check again, classify and journal."""
    ledger_ = project.ledger(config)
    with workdir.probe_folder() as work:
        runs = not before and (state.mode == "OBSERVING" or purpose == "certification")
        evidence = _run_probes(project, config, work) if runs else []
        after = _violations(project, config, jobs) if evidence else ()
        probes = tuple(e.facts for e in evidence)
        facts = ObservationFacts(before, after, probes, probes_run=runs)
        run = _Run(
            project, ledger_, state, now, evidence, facts, classify(facts), new_id("RTE", now),
            tuple(config.probe) if runs else (), purpose, authorised_change,
        )  # fmt: skip
        return _journal(run)


def observe(
    project: Project,
    config: Config,
    jobs: int,
    now: datetime | None = None,
    wait: bool = False,
    *,
    purpose: Purpose = "observation",
) -> Observation:
    """Observe once; returns the event as journaled. Raises RefusedError when frozen or halted
    (after checking the invariants: a violation while FROZEN is an INCIDENT), BusyError when
    another observation of the project is running and `wait` is false. A certification
    (`sealguard certify`) is the one observation a stopped project runs: after a decision
    that waits for it."""
    ledger_ = project.ledger(config)
    # one connection to a fleet database for all the observation does there
    with fleet.session(ledger_.fleet.url if ledger_.fleet else None):
        return _observe(project, config, jobs, now=now, wait=wait, purpose=purpose, ledger_=ledger_)


def _observe(
    project: Project,
    config: Config,
    jobs: int,
    *,
    now: datetime | None,
    wait: bool,
    purpose: Purpose,
    ledger_: ledger.Ledger,
) -> Observation:
    _state(project, ledger_)  # refuse an unsealed project before anything is written
    with observer_lock(ledger_.folder, wait), ledger.one_checkpoint(ledger_):
        # its moment is taken once the lock is held: an observation queued behind another act
        # (a review of a period that ends now) is placed after it, never inside that period
        now = now or datetime.now(UTC)
        try:
            observation, escalation_id = _observe_locked(project, config, jobs, now, purpose)
        except IntegrityError as exc:  # the log refuses appends: nothing can be journaled
            raise _unjournaled(project, config, now, exc.message) from None
        # the one checkpoint of the act follows the deliveries' lines too
        attempts = dispatch.deliver_due(project, config, now)  # this one, any still pending
    return Observation(observation.event, observation.seq, escalation_id, tuple(attempts))


def _refuse_certification(ledger_: ledger.Ledger, state: ObservationState) -> None:
    if state.awaiting is None:
        ledger.append(
            ledger_, "certification_refused", {"state": state.mode, "reason": state.reason}
        )
        raise RefusedError(
            f"observation is {state.mode} ({state.reason}) and no decision awaits a "
            "certification: a rollback or re-seal decision comes first (`sealguard decide`); "
            "the attempt was journaled"
        )


def _planned_change(
    project: Project, config: Config, state: ObservationState, jobs: int
) -> tuple[str, Config | None] | None:
    """The planned change authorised before deployment, when the tree is now exactly it:
    installed, and said. Anything beyond it leaves it uninstalled (and is an INCIDENT)."""
    planned = state.authorised
    if planned is None:
        return None
    events = notable_events(project.ledger(config))
    proposal = proposals.find(events, planned.proposal)
    if proposal is None:
        return None
    try:
        files = proposal.files(project)
    except RefusedError:
        return None  # the proposal was edited: INV-D-04 says so, and nothing is installed
    manifest = versions.deployable_entries(versions.read_manifest(files[BASELINE_NAME]))
    if found := tree_differences(project, manifest, jobs):
        said = (
            f"v{planned.version} ({planned.proposal}) NOT installed: the tree is neither the "
            f"baseline in force nor the proposal, which differs by {versions.describe(found)}"
        )
        return said, None
    install_proposal(
        project, project.ledger(config), state, events,
        proposal_id=planned.proposal, version=planned.version, decision=planned.decision,
    )  # fmt: skip
    said = f"v{planned.version} ({planned.proposal}, authorised by {planned.decision})"
    return said, config_in_force(project)


def _deployment_only(project: Project, found: tuple[FactViolation, ...]) -> bool:
    """Differences a deployment makes: the sealed tree (INV-D-02) and the sealed governance
    files (INV-D-01), never the baseline itself, the log, the runtime area or a decision
    (a forged or replayed one must not install anything before it halts observation)."""
    baseline = project.display(project.baseline_file)
    return all(
        v.invariant == "INV-D-02"
        or (v.invariant == "INV-D-01" and v.path != baseline and v.change != "not checked")
        for v in found
    )


def _not_restored_yet(
    project: Project, state: ObservationState, found: tuple[FactViolation, ...], jobs: int
) -> bool:
    """A rollback or re-seal decided while FROZEN installs its version at once; until people
    restore (or deploy) the build, the tree is exactly the version it left. That is the step
    the decision awaits, not an INCIDENT; any other difference still is one."""
    awaiting = state.awaiting
    if not (found and state.mode == "FROZEN" and awaiting and _deployment_only(project, found)):
        return False
    left = versions.left_by(ledger.read_events(project.log_file), awaiting.decision)
    if left is None or left not in state.versions:
        return False
    try:
        files = versions.kept_files(project, left, state.versions[left])
    except RefusedError:
        return False
    manifest = versions.deployable_entries(versions.read_manifest(files[BASELINE_NAME]))
    return not tree_differences(project, manifest, jobs)


def _observe_locked(
    project: Project, config: Config, jobs: int, now: datetime, purpose: Purpose
) -> tuple[Observation, str | None]:
    if versions.complete_install(project):
        config = config_in_force(project)
    ledger_ = project.ledger(config)
    runtime.account_leftovers(ledger_)
    workdir.remove_stale()
    if purpose == "observation" and ledger_.fleet is not None:
        from sealguard.decide.fleet_decisions import pull_quietly  # decisions for many hosts

        if pull_quietly(project, config, now):  # installed one (a stopped host): its config
            config = config_in_force(project)
    state = _state(project, ledger_)
    before = _violations(project, config, jobs)
    installed = None
    if purpose == "certification":
        _refuse_certification(ledger_, state)
    elif state.mode in ("FROZEN", "HALTED") and not state.log_lost:
        _refuse(ledger_, state, before, _not_restored_yet(project, state, before, jobs))
    elif (
        before
        and state.mode == "OBSERVING"
        and _deployment_only(project, before)
        and (found := _planned_change(project, config, state, jobs))
    ):
        installed, new_config = found
        if new_config is not None:  # installed: checked again against the new version
            config = new_config
            state = _state(project, ledger_)
            before = _violations(project, config, jobs)
    observation = _classified(
        project, config, jobs, state, now=now, before=before, purpose=purpose,
        authorised_change=installed,
    )  # fmt: skip
    data = to_data(observation.event)
    escalation_id = dispatch.create(project, config, data, now)
    if observation.event.classification == "INCIDENT" and state.incident is None:
        incidents.open_incident(
            project, ledger_, data | {"seq": observation.seq}, state.version, now
        )
    return observation, escalation_id


def _unjournaled(project: Project, config: Config, now: datetime, reason: str) -> IntegrityError:
    """An observation the log refuses to record is an INCIDENT all the same: escalated at once,
    outside the outbox, and said in one line (exit 3). Never blinded by one forged line."""
    sent = dispatch.escalate_unjournaled(project, config, reason, now)
    outcomes = ", ".join(f"{name} {attempt.outcome}" for name, attempt in sent) or "no channel"
    return IntegrityError(
        f"INCIDENT, not journaled: the governance log refuses appends ({reason}); "
        f"escalated at once, outside the outbox: {outcomes}"
    )
