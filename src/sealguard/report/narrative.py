"""What an observation says to people: its summary, the state, its diff, its diagnosis.

No I/O beyond reading evidence files the event names; callers print the result. Text that
comes from outside (test names, details, channel errors) is put on one line with `_one`, so it
cannot forge a line of the summary; `output.write` escapes the rest.
"""

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sealguard.escalation.outbox import AttemptRecord, Delivery, Escalation
from sealguard.events import ProbeRecord, RuntimeEvent, StatusChange, Step, Violation, from_data
from sealguard.names import terminal_safe as _one
from sealguard.project import Project
from sealguard.report.render import decision_line
from sealguard.state import ObservationState, observed_at

if TYPE_CHECKING:  # imported where used: `status` must not pay for the whole observation stack
    from sealguard.decide.incidents import Incident
    from sealguard.ledger.auditor import LogReport
    from sealguard.observe.watch import Round


def _probe_line(p: ProbeRecord) -> str:
    verdict = p.verdict + (
        f" (baseline {p.baseline_verdict})" if p.baseline_verdict not in (None, p.verdict) else ""
    )
    if p.timed_out:
        exit_text = "timed out"
    elif p.exit_code is None and p.signal is None:
        exit_text = "not started"
    else:
        exit_text = f"exit {p.exit_code}" if p.signal is None else f"signal {p.signal}"
    changes = f", {len(p.status_changes)} status changes" if p.status_changes else ""
    tests = f"  {p.test_count} tests" if p.test_count or p.kind != "text" else ""
    seconds = p.duration_ms / 1000
    return f"  {p.name}  {verdict}  {exit_text}{tests}{changes}  {seconds:.1f}s"


def _change(c: StatusChange) -> str:
    return f"{_one(c.test)} {c.before or '(absent)'} -> {c.after or '(absent)'}"


SHOWN = 10  # rows of a list a summary shows; the rest is counted and where to see it is named
LISTED = 1000  # rows `diff` lists; the snapshot keeps them all


def _bounded(rows: list[str], limit: int, where: str, indent: str = "  ") -> list[str]:
    """The first `limit` rows, then a row saying how many were left out and where they are."""
    if len(rows) <= limit:
        return rows
    return [*rows[:limit], f"{indent}… +{len(rows) - limit} more (all of them: {where})"]


def _violation(v: Violation) -> str:
    return f"{v.invariant} {v.change} {_one(v.path)}: {_one(v.detail)}"


def observation_text(e: RuntimeEvent) -> str:
    """A short human summary: class, why, what changed, where the evidence is, what comes next."""
    purpose = " (certification run)" if e.purpose == "certification" else ""
    lines = [
        f"{e.classification} ({e.severity}){purpose}: {e.event_id} at {e.observed_at}, "
        f"commit {e.commit or 'none'}"
    ]
    if e.authorised_change:
        lines.append(f"authorised change: {_one(e.authorised_change)}")
    lines.append("why:")
    lines += [f"  {s.rule}{_probe_tag(s)} {_one(s.detail)}" for s in e.why if s.matched]
    for found, label in (
        (e.invariants_before, "before the probes"),
        (e.invariants_after, "after the probes"),
    ):
        if found:
            lines.append(f"invariants violated {label}:")
            rows = [f"  {_violation(v)}" for v in found]
            lines += _bounded(rows, SHOWN, f"sealguard diff {e.event_id}")
    if e.probes:
        lines.append("probes:")
        lines += [_probe_line(p) for p in e.probes]
    changed = [f"  {p.name}: {_change(c)}" for p in e.probes for c in p.status_changes]
    if changed:
        lines.append("changed:")
        lines += _bounded(changed, SHOWN, f"sealguard diff {e.event_id}")
    if not e.probes_run:
        lines.append("probes: not run (an invariant was already violated)")
    if e.snapshot:
        lines.append(f"evidence: {e.snapshot.path}/ ({len(e.snapshot.files)} files)")
    if e.export:
        lines.append(f"log export: {e.export}")
    lines.append(f"state: {e.state_before} -> {e.state_after}")
    lines.append(f"next: {e.next}")
    return "\n".join(lines)


def decision_text(
    record: dict[str, Any], installed: dict[str, Any] | None, state: ObservationState
) -> str:
    lines = [f"decision journaled: {decision_line(record)}"]
    if installed:
        lines.append(
            f"baseline v{installed.get('version')} installed "
            f"(sha256 {str(installed.get('baseline_sha256'))[:16]}…)"
        )
    lines.append(f"state: {state.mode} ({_one(state.reason)})")
    lines.append(f"next: {state.next_step}")
    return "\n".join(lines)


def incident_text(item: "Incident", missing: list[str]) -> str:
    lines = [
        f"{item.incident_id}: {item.status}, opened {item.opened_at} by {item.event_id}",
        f"report: {item.report}",
        "sections still to write: " + (", ".join(missing) or "none"),
    ]
    lines += ["decision: " + decision_line(d) for d in item.decisions]
    return "\n".join(lines)


def status_json(state: ObservationState) -> dict[str, Any]:
    return {
        "state": state.mode,
        "baseline_version": state.version,
        "investigation": state.investigation.__dict__ if state.investigation else None,
        "awaiting_certification": state.awaiting.__dict__ if state.awaiting else None,
        "authorised_change": state.authorised.__dict__ if state.authorised else None,
        "incident": state.incident.__dict__ if state.incident else None,
        "last_decision": decision_line(state.last_decision) if state.last_decision else None,
        "since": state.since,
        "because": state.because,
        "reason": state.reason,
        "next": state.next_step,
        "baseline_sha256": state.baseline_sha256,
        "recent": [
            {
                "event_id": e.get("event_id"),
                "observed_at": observed_at(e),
                "ts": e.get("ts"),  # kept for scripts written before 0.3: the journal time
                "classification": e.get("classification"),
            }
            for e in state.recent
        ],
    }


def status_text(state: ObservationState) -> str:
    lines = [
        f"state: {state.mode} since {state.since or '-'} "
        f"({state.because or '-'}: {_one(state.reason or '-')})"
    ]
    lines.append(f"baseline in force: v{state.version}, sha256 {state.baseline_sha256 or 'none'}")
    if state.investigation:
        i = state.investigation
        lines.append(f"under investigation since {i.since} by {i.by}: {_one(i.reason)}")
    if state.authorised:
        a = state.authorised
        lines.append(
            f"authorised change: v{a.version} ({a.proposal}, {a.decision}) "
            "is installed by the observation that sees it deployed"
        )
    if state.incident:
        lines.append(
            f"open incident: {state.incident.incident_id} since {state.incident.since}, "
            f"report {state.incident.report}"
        )
    if state.last_decision:
        lines.append("last decision: " + decision_line(state.last_decision))
    lines.append(f"next: {state.next_step}")
    if state.recent:
        lines.append("recent observations:")
        lines += [
            f"  {observed_at(e)} {e.get('event_id')} {e.get('classification')}"
            for e in reversed(state.recent)
        ]
    return "\n".join(lines)


def _causes(event: RuntimeEvent) -> list[str]:
    """The rules that decided the observation's class, one `cause:` line each."""
    decided = [s for s in event.why if s.matched and s.klass == event.classification]
    if not decided:
        return ["cause: no rule decided this class (no probe ran and no invariant was violated)"]
    return [f"cause: {s.rule}{_probe_tag(s)} {_one(s.detail)}" for s in decided]


def _invariant_rows(event: RuntimeEvent) -> list[str]:
    """Every invariant the observation found violated (sealed files named), bounded."""
    lines = []
    for found, label in (
        (event.invariants_before, "before the probes"),
        (event.invariants_after, "after the probes"),
    ):
        if found:
            lines.append(f"invariants violated {label} ({len(found)}):")
            where = "sealed-differences.json in the snapshot"
            lines += _bounded([f"  {_violation(v)}" for v in found], LISTED, where)
    if not event.probes_run:
        lines.append("probes: not run (an invariant was already violated before them)")
    return lines


def _cause_of(event: RuntimeEvent, probe: ProbeRecord) -> Step | None:
    return next((s for s in event.why if s.matched and s.probe == probe.name), None)


def _kept_diff(kept: Path) -> list[str]:
    """The unified diff part of a snapshot's diff.txt (the rest is rebuilt from the event)."""
    text = kept.read_text(encoding="utf-8").rstrip("\n")
    from sealguard.observe import diffing

    _, found, diff = text.partition(diffing.OUTPUT_HEADING + "\n")
    return diff.split("\n") if found else text.split("\n")


def _probe_diff(root: Path, event: RuntimeEvent, probe: ProbeRecord) -> str:
    snapshot = event.snapshot
    kept = root / snapshot.path / probe.name / "diff.txt" if snapshot else None
    lines: list[str] = []
    if kept is not None and kept.exists():
        lines = _kept_diff(kept)
    elif probe.output_sha256 != probe.baseline_output_sha256:
        lines = ["(no snapshot was kept for this observation, so no output diff)"]
    from sealguard.observe import diffing

    return diffing.explain(probe, _cause_of(event, probe), lines).rstrip("\n")


def diff_text(root: Path, event: RuntimeEvent) -> str:
    """The cause first, then the invariants violated (sealed files named), then each probe's
    cause, status changes and bounded output diff (or, when its tooling failed, why not)."""
    lines = [f"diff of {event.event_id} ({event.classification}) with the baseline"]
    lines += _causes(event)
    lines += _invariant_rows(event)
    for probe in event.probes:
        lines += ["", _probe_diff(root, event, probe)]
    return "\n".join(lines)


def _probe_tag(step: Step) -> str:
    return f" [{step.probe}]" if step.probe else ""


def _check(ok: bool, question: str) -> str:
    return f"[{'x' if ok else ' '}] {question} {'yes' if ok else 'NO'}"


def _invariant_check(event: RuntimeEvent, names: tuple[str, ...], question: str) -> list[str]:
    """One line of the checklist about invariants, with the violations it found under it."""
    found = [v for v in event.invariants_before + event.invariants_after if v.invariant in names]
    if not found:
        return [_check(True, question)]
    rows = [f"      {v.change} {_one(v.path)}: {_one(v.detail)}" for v in found]
    return [
        _check(False, question) + f": {len(found)} changed",
        *_bounded(rows, SHOWN, f"sealguard diff {event.event_id}", indent="      "),
    ]


def _probe_checks(probe: ProbeRecord) -> list[str]:
    """Is its report readable, and is its console green."""
    lines = []
    if probe.report_state != "none":
        ok = probe.report_state == "ok"
        question = f"the report readable ({probe.name})?"
        problem = f"the {probe.kind} report is {probe.report_state}: {_one(probe.report_problem)}"
        lines.append(_check(ok, question) + ("" if ok else f": {problem}"))
    summary = probe.console
    if summary is None:
        lines.append(
            f"[ ] tests passing on the console ({probe.name})? no console summary was recognised"
        )
    else:
        green = summary["failed"] == 0 and summary["errors"] == 0 and summary["passed"] > 0
        lines.append(
            _check(green, f"tests passing on the console ({probe.name})?")
            + f": {summary['passed']} passed, {summary['failed']} failed, "
            f"{summary['errors']} errors"
        )
    return lines


def diagnosis_text(project: Project, event: RuntimeEvent, log_report: "LogReport") -> str:
    """The cause, then the runbook's checklist answered for one observation (each invariant
    with what violated it), then its path through the rules."""
    event_file = project.saved_event_file(event.event_id)
    try:
        from_data(json.loads(event_file.read_text(encoding="utf-8")))
        valid = True
    except (OSError, ValueError, TypeError):
        valid = False
    lines = [f"diagnosis of {event.event_id} ({event.classification})", *_causes(event)]
    lines += [
        _check(valid, "a valid RUNTIME_EVENT.json?") + f" ({project.display(event_file)})",
        _check(log_report.intact, "the governance log append-only (never modified)?"),
        *_invariant_check(event, ("INV-D-01",), "the baseline unchanged (INV-D-01)?"),
        *_invariant_check(event, ("INV-D-02",), "the sealed files unchanged (INV-D-02)?"),
        *_invariant_check(
            event,
            ("INV-D-03", "INV-D-04", "INV-D-07"),
            "the log, the runtime area and the snapshots as sealguard wrote them "
            "(INV-D-03, 04, 07)?",
        ),
    ]
    if not event.probes_run:
        lines.append("probes: not run (an invariant was already violated before them)")
    for probe in event.probes:
        lines += _probe_checks(probe)
    lines.append(
        "runbook: baseline or sealed files changed -> INCIDENT; console green but report invalid "
        "-> TOOLING_DRIFT; tests failing or output different -> PRODUCT_DRIFT"
    )
    lines.append("path through the rules (first match wins):")
    lines += [
        f"  {'->' if s.matched else '  '} {s.rule} {s.klass}{_probe_tag(s)}"
        + (f": {_one(s.detail)}" if s.matched else "")
        for s in event.why
    ]
    return "\n".join(lines)


def attempts_text(attempts: list[AttemptRecord]) -> str:
    """One line per delivery attempt; empty when there was none."""
    return "\n".join(
        f"escalation {a['escalation_id']} via {a['channel']} "
        f"(attempt {a['attempt']}): {a['outcome']}"
        + (f" ({_one(a['detail'])})" if a["outcome"] != "delivered" else "")
        for a in attempts
    )


def watch_lines(done: "Round") -> list[str]:
    """What `watch` says after each round."""
    from sealguard.observe.watch import NotObserving, Refused, Retried, Stopped

    if isinstance(done, NotObserving):
        return [f"watch: not observing. {status_text(done.state)}", attempts_text(done.attempts)]
    if isinstance(done, Refused):
        return [f"watch: {done.message}"]
    if isinstance(done, Retried):
        return [attempts_text(done.attempts)]
    if isinstance(done, Stopped) and done.during:
        return [
            f"watch: stopped by signal {done.signal} during an observation: its probe was "
            "stopped with every process it started, and nothing of the observation was journaled"
        ]
    if isinstance(done, Stopped):
        return [f"watch: stopped by signal {done.signal} between observations"]
    return [observation_text(done.event), attempts_text(list(done.attempts))]


def _left(seconds: float) -> str:
    from sealguard.durations import duration_text

    return (
        f"{duration_text(seconds)} left"
        if seconds >= 0
        else f"OVERDUE by {duration_text(-seconds)}"
    )


def _delivery(d: Delivery) -> str:
    if d.state == "undeliverable":
        return f"{d.channel}: undeliverable (not configured)"
    return f"{d.channel}: {d.state}" + (f" after {d.attempts} tries" if d.attempts > 1 else "")


def _deliveries(esc: Escalation) -> str:
    return ", ".join(_delivery(d) for d in esc.deliveries.values())


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat() + "Z"


def _standing(e: Escalation, now: datetime) -> str:
    """Who acknowledged it and when (no deadline is left to run), or the time left."""
    if e.acknowledged_by:
        return f"acknowledged by {_one(e.acknowledged_by)} at {_stamp(e.acknowledged_at)}"
    return _left((e.deadline_at - now).total_seconds())


def escalation_rows(escalations: list[Escalation], now: datetime) -> list[str]:
    """Escalations with their deliveries and time left, or who acknowledged them and when."""
    return [
        f"  {e.escalation_id} {e.classification} {e.event_id} [{_deliveries(e)}] "
        + (f"seen {e.count} times, latest {e.latest_event_id}; " if e.count > 1 else "")
        + _standing(e, now)
        for e in escalations
    ]


def escalations_json(escalations: list[Escalation], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "escalation_id": e.escalation_id,
            "event_id": e.event_id,
            "classification": e.classification,
            "count": e.count,
            "latest_event_id": e.latest_event_id,
            "created_at": _stamp(e.created_at),
            "deadline_at": _stamp(e.deadline_at),
            "seconds_left": (
                None if e.acknowledged_by else int((e.deadline_at - now).total_seconds())
            ),
            # an acknowledgement stops the clock: one made in time is never overdue
            "overdue": e.overdue_at is not None or (e.acknowledged_at or now) >= e.deadline_at,
            "delivered": e.delivered,
            "acknowledged_by": e.acknowledged_by,
            "acknowledged_at": _stamp(e.acknowledged_at),
            "note": e.note,
            "deliveries": [
                {
                    "channel": d.channel,
                    "state": d.state,
                    "attempts": d.attempts,
                    "last_detail": d.last_detail,
                }
                for d in e.deliveries.values()
            ],
        }
        for e in escalations
    ]
