"""Turning reports into what people and scripts read. No I/O: callers print the result."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sealguard.exitcodes import ExitCode
from sealguard.integrity import CHANGES, Difference, group_by_change

if TYPE_CHECKING:
    from sealguard.ledger import LogReport
    from sealguard.ledger.proof import ProofCheck
    from sealguard.seal import SealReport
    from sealguard.verify import VerifyReport


def size_text(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def verify_exit_code(report: "VerifyReport") -> ExitCode:
    return ExitCode.OK if report.intact else ExitCode.INCIDENT


def _counts(differences: list[Difference]) -> dict[str, int]:
    grouped = group_by_change(differences)
    return {change: len(grouped[change]) for change in CHANGES}


def verify_text(report: "VerifyReport", seconds: float) -> str:
    checked = f"{report.files:,} files and {report.symlinks:,} symlinks"
    if report.intact:
        own = (
            f"{report.governance_files} sealed governance files too; "
            if report.governance_files
            else ""
        )
        return (
            f"INTACT: {checked} match the baseline (sha256 {report.baseline_sha256}); "
            f"{own}{size_text(report.bytes)} read in {seconds:.2f} s"
        )
    counts = _counts(report.differences)
    invariants = sorted({d.invariant for d in report.differences})
    lines = [
        f"INCIDENT: {', '.join(invariants) or 'an invariant'} violated: "
        + ", ".join(f"{counts[c]} {c}" for c in CHANGES)
    ]
    for change, items in group_by_change(report.differences).items():
        if items:
            lines.append(f"{change}:")
            lines.extend(f"  {d.path}  {d.detail} [{d.invariant}]" for d in items)
    lines.extend(f"not checked: {reason}" for reason in report.not_checked)
    return "\n".join(lines)


def verify_json(report: "VerifyReport", seconds: float) -> dict[str, Any]:
    return {
        "command": "verify",
        "intact": report.intact,
        "exit_code": int(verify_exit_code(report)),
        "baseline": {
            "path": report.baseline,
            "sha256": report.baseline_sha256,
            "recorded_sha256": report.recorded_sha256,
        },
        "checked": {
            "files": report.files,
            "symlinks": report.symlinks,
            "governance_files": report.governance_files,
            "bytes": report.bytes,
        },
        "seconds": round(seconds, 3),
        "counts": _counts(report.differences),
        "differences": [
            {"change": d.change, "path": d.path, "detail": d.detail, "invariant": d.invariant}
            for d in sorted(report.differences, key=lambda d: (d.invariant, d.change, d.path))
        ],
        "not_checked": report.not_checked,
    }


def seal_text(report: "SealReport", baseline: str, seconds: float) -> str:
    return (
        f"SEALED: {report.files:,} files and {report.symlinks:,} symlinks "
        f"({size_text(report.bytes)}) in {seconds:.2f} s\n"
        f"baseline: {baseline} (sha256 {report.baseline_sha256})\n"
        f"journaled as event seq {report.event['seq']} in the governance log"
    )


def log_exit_code(report: "LogReport") -> ExitCode:
    return ExitCode.OK if report.intact else ExitCode.INCIDENT


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def log_text(report: "LogReport") -> str:
    lines = []
    if report.intact:
        lines.append(
            f"INTACT: {report.lines:,} lines, tree root {_b64(report.root)}; "
            f"{report.checkpoints:,} checkpoints hold "
            f"(the latest covers {report.latest or 0:,} lines)"
        )
    else:
        first = report.first_problem()
        lines.append(
            "INCIDENT: the governance log is not intact (INV-D-03): "
            + (first.message if first else "")
        )
        lines.extend(f"  {p.kind}: {p.message}" for p in report.problems)
    if report.torn_tails:
        lines.append(
            "torn writes accounted for by torn_tail events: lines "
            + ", ".join(map(str, report.torn_tails))
        )
    if report.unpublished:
        lines.append(
            f"note: the last {report.unpublished} lines were written and announced "
            "but their checkpoint "
            "was not published (a crash); the next append publishes it"
        )
    if report.pending_tail:
        lines.append(
            f"note: {report.pending_tail} bytes after the last newline (a write cut short); "
            "the next append records them as a torn tail"
        )
    return "\n".join(lines)


def log_json(report: "LogReport") -> dict[str, Any]:
    first = report.first_problem()
    return {
        "command": "log verify",
        "intact": report.intact,
        "exit_code": int(log_exit_code(report)),
        "lines": report.lines,
        "bytes": report.length,
        "root": _b64(report.root),
        "checkpoints": report.checkpoints,
        "latest_checkpoint_size": report.latest,
        "torn_tails": report.torn_tails,
        "pending_tail_bytes": report.pending_tail,
        "unpublished_lines": report.unpublished,
        "first_problem": None
        if first is None
        else {"kind": first.kind, "line": first.line, "message": first.message},
        "problems": [
            {"kind": p.kind, "line": p.line, "message": p.message} for p in report.problems
        ],
    }


def event_line(event: dict[str, Any]) -> str:
    """One event on one line: seq, time, type, then its other fields as key=value."""
    rest = " ".join(
        f"{k}={v}"
        for k, v in sorted(event.items())
        if k not in ("seq", "ts", "type") and not isinstance(v, dict | list)
    )
    head = f"{event.get('seq', '?'):>6} {event.get('ts', '?')} {event.get('type', '?')}"
    return f"{head} {rest}".rstrip()


def proof_text(check: "ProofCheck") -> str:
    verdict = "VALID" if check.valid else "INVALID"
    text = f"{verdict}: {check.reason}"
    if check.valid and check.key_source != "--key":
        text += " (checked with the key inside the bundle; pass --key with a key you trust)"
    return text


def _event_dict(event: Any) -> dict[str, Any]:
    if isinstance(event, dict):
        return event
    from sealguard.events import to_data

    return to_data(event)


def _probe_line(p: dict[str, Any]) -> str:
    verdict = p["verdict"] + (
        f" (baseline {p['baseline_verdict']})"
        if p["baseline_verdict"] not in (None, p["verdict"])
        else ""
    )
    exit_text = "timed out" if p["timed_out"] else f"exit {p['exit_code']}"
    changes = f", {len(p['status_changes'])} status changes" if p["status_changes"] else ""
    return f"  {p['name']}  {verdict}  {exit_text}  {p['test_count']} tests{changes}  {p['duration_ms'] / 1000:.1f}s"


def observation_text(event: Any) -> str:
    """A short human summary: class, why, what changed, where the evidence is, what comes next."""
    e = _event_dict(event)
    lines = [
        f"{e['classification']} ({e['severity']}): {e['event_id']} at {e['observed_at']}, commit {e['commit'] or 'none'}"
    ]
    lines.append("why:")
    lines += [
        f"  {s['rule']}{' [' + s['probe'] + ']' if s.get('probe') else ''} {s['detail']}"
        for s in e["why"]
        if s["matched"]
    ]
    for key, label in (
        ("invariants_before", "before the probes"),
        ("invariants_after", "after the probes"),
    ):
        if e[key]:
            lines.append(f"invariants violated {label}:")
            lines += [
                f"  {v['invariant']} {v['change']} {v['path']}: {v['detail']}" for v in e[key][:10]
            ]
    if e["probes"]:
        lines.append("probes:")
        lines += [_probe_line(p) for p in e["probes"]]
    changed = [(p["name"], c) for p in e["probes"] for c in p["status_changes"]]
    if changed:
        lines.append("changed:")
        lines += [
            f"  {name}: {c['test']} {c['before'] or '(absent)'} -> {c['after'] or '(absent)'}"
            for name, c in changed[:10]
        ]
    if not e["probes_run"]:
        lines.append("probes: not run (an invariant was already violated)")
    if e["snapshot"]:
        lines.append(f"evidence: {e['snapshot']['path']}/ ({len(e['snapshot']['files'])} files)")
    if e["export"]:
        lines.append(f"log export: {e['export']}")
    lines.append(f"state: {e['state_before']} -> {e['state_after']}")
    lines.append(f"next: {e['next']}")
    return "\n".join(lines)


def status_json(state: Any) -> dict[str, Any]:
    return {
        "state": state.mode,
        "since": state.since,
        "because": state.because,
        "reason": state.reason,
        "next": state.next_step,
        "baseline_sha256": state.baseline_sha256,
        "recent": [
            {
                "event_id": e.get("event_id"),
                "ts": e.get("ts"),
                "classification": e.get("classification"),
            }
            for e in state.recent
        ],
    }


def status_text(state: Any) -> str:
    lines = [
        f"state: {state.mode} since {state.since or '-'} ({state.because or '-'}: {state.reason or '-'})"
    ]
    lines.append(f"baseline in force: sha256 {state.baseline_sha256 or 'none'}")
    lines.append(f"next: {state.next_step}")
    if state.recent:
        lines.append("recent observations:")
        lines += [
            f"  {e.get('ts')} {e.get('event_id')} {e.get('classification')}"
            for e in reversed(state.recent)
        ]
    return "\n".join(lines)


def diff_text(root: Path, event: dict[str, Any]) -> str:
    """Per-test status changes first, then each probe's bounded diff kept in the snapshot."""
    out = []
    for p in event["probes"]:
        out.append(f"== probe {p['name']}")
        snapshot = event.get("snapshot")
        kept = root / snapshot["path"] / p["name"] / "diff.txt" if snapshot else None
        if kept is not None and kept.exists():
            out.append(kept.read_text(encoding="utf-8").rstrip())
        elif p["status_changes"] or p["output_sha256"] != p["baseline_output_sha256"]:
            out += [
                f"{c['test']}: {c['before'] or '(absent)'} -> {c['after'] or '(absent)'}"
                for c in p["status_changes"]
            ]
            out.append("(no snapshot was kept for this observation, so no output diff)")
        else:
            out.append("(identical to the baseline)")
    return "\n".join(out) if out else "(no probe ran in this observation)"


def _answer(ok: bool) -> str:
    return "yes" if ok else "NO"


def diagnosis_text(root: Path, event: dict[str, Any], log_report: Any) -> str:
    """The runbook's checklist, answered for one observation, then its path through the rules."""
    import json as jsonlib

    from sealguard.events import from_data

    event_file = root / "governance" / "runtime" / "events" / f"{event['event_id']}.json"
    try:
        from_data(jsonlib.loads(event_file.read_text(encoding="utf-8")))
        valid = True
    except (OSError, ValueError, TypeError):
        valid = False
    baseline_changed = [
        v
        for v in event["invariants_before"] + event["invariants_after"]
        if v["invariant"] == "INV-D-01"
    ]
    console = [(p["name"], p["console"]) for p in event["probes"]]
    lines = [
        f"diagnosis of {event['event_id']} ({event['classification']})",
        f"[{'x' if valid else ' '}] a valid RUNTIME_EVENT.json? {_answer(valid)} ({event_file.relative_to(root)})",
        f"[{'x' if log_report.intact else ' '}] the governance log append-only (never modified)? {_answer(log_report.intact)}",
        f"[{'x' if not baseline_changed else ' '}] the baseline unchanged (it MUST be)? {_answer(not baseline_changed)}",
    ]
    for name, summary in console:
        if summary is None:
            lines.append(
                f"[ ] tests passing on the console ({name})? no console summary was recognised"
            )
        else:
            green = summary["failed"] == 0 and summary["errors"] == 0 and summary["passed"] > 0
            lines.append(
                f"[{'x' if green else ' '}] tests passing on the console ({name})? {_answer(green)}: "
                f"{summary['passed']} passed, {summary['failed']} failed, {summary['errors']} errors"
            )
    lines.append(
        "runbook: baseline changed -> INCIDENT; console green but report invalid -> TOOLING_DRIFT; "
        "tests failing or output different -> PRODUCT_DRIFT"
    )
    lines.append("path through the rules (first match wins):")
    lines += [
        f"  {'->' if s['matched'] else '  '} {s['rule']} {s['class']}{' [' + s['probe'] + ']' if s.get('probe') else ''}"
        + (f": {s['detail']}" if s["matched"] else "")
        for s in event["why"]
    ]
    return "\n".join(lines)
