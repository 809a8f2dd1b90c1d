"""Turning reports into what people and scripts read. No I/O: callers print the result.

In text, each piece of data that could hold a newline goes through `_one` (one line, no
control character), so no name or message can forge a line of the report.
"""

from typing import TYPE_CHECKING, Any

from sealguard.exitcodes import ExitCode
from sealguard.names import terminal_safe as _one
from sealguard.seal.integrity import CHANGES, Difference, group_by_change
from sealguard.state import signer_names

if TYPE_CHECKING:
    from sealguard.ledger import LogReport
    from sealguard.ledger.proof import ProofCheck
    from sealguard.seal.sealing import SealReport
    from sealguard.seal.verify import VerifyReport


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
            f"{own}{size_text(report.bytes)} read in {seconds:.2f} s; {_log_scope(report)}"
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
            lines.extend(f"  {_one(d.path)}  {_one(d.detail)} [{d.invariant}]" for d in items)
    lines.extend(f"not checked: {_one(reason)}" for reason in report.not_checked)
    return "\n".join(lines)


def _log_scope(report: "VerifyReport") -> str:
    lines = report.log.lines if report.log else 0
    if report.log_full:
        return f"the log's {lines:,} lines audited in full ({report.log_why_full or 'asked'})"
    return f"the log audited from its last verified state ({lines:,} lines; `--full` for all)"


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
        "log_audit": {"full": report.log_full, "why_full": report.log_why_full or None},
    }


def _seal_times(report: "SealReport") -> str:
    """Hashing and probe times apart: a slow test suite must not read as slow hashing."""
    probes = sum(seconds for _, seconds in report.probe_seconds)
    each = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in report.probe_seconds)
    ran = f"probes {probes:.2f} s ({each})" if report.probe_seconds else "no probe"
    return f"hashing {report.hash_seconds:.2f} s, {ran}"


def seal_text(report: "SealReport", baseline: str, seconds: float) -> str:
    return (
        f"SEALED: {report.files:,} files and {report.symlinks:,} symlinks "
        f"({size_text(report.bytes)}) in {seconds:.2f} s: {_seal_times(report)}\n"
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
            + (_one(first.message) if first else "")
        )
        lines.extend(f"  {p.kind}: {_one(p.message)}" for p in report.problems)
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


def decision_line(record: dict[str, Any]) -> str:
    """A decision as every human-readable output shows it: who (printed name and id), when,
    what it means (21 CFR Part 11 §11.50(b)), what was decided on what, and why."""
    return (
        f"{record.get('decision_id')} {record.get('decision')} "
        f"{(record.get('answers') or {}).get('id')} signed by {signer_names(record)} "
        f"at {record.get('decided_at')} "
        f"(meaning: {record.get('meaning')}): {_one(str(record.get('reason', '')))}"
    )


def review_line(record: dict[str, Any]) -> str:
    """A signed review of the audit trail as every human-readable output shows it: the period,
    who (printed name, id, role), when and with which meaning (§11.50(b)), why, what was signed."""
    period = record.get("period") or {}
    signers = ", ".join(
        f"{s.get('name')} ({s.get('id')}, {s.get('role')})" for s in record.get("signers") or []
    )
    return (
        f"{record.get('review_id')} review of the audit trail from {period.get('since')} to "
        f"{period.get('until')} signed by {signers} at {record.get('reviewed_at')} "
        f"(meaning: {record.get('meaning')}): {_one(str(record.get('reason', '')))}; "
        f"report content sha256 {record.get('report_sha256')}"
    )


def decisions_text(events: list[dict[str, Any]]) -> bytes:
    """DECISIONS.txt of an export: every decision, one line each."""
    lines = [decision_line(e) for e in events if e.get("type") == "decision"]
    return ("\n".join(lines or ["no decision"]) + "\n").encode()


def event_line(event: dict[str, Any]) -> str:
    """One event on one line: seq, time, type, then its other fields as key=value (a decision
    or a review: who signed it, when, and what the signature means)."""
    rest = " ".join(
        f"{k}={_one(str(v))}"
        for k, v in sorted(event.items())
        if k not in ("seq", "ts", "type") and not isinstance(v, dict | list)
    )
    head = f"{event.get('seq', '?'):>6} {event.get('ts', '?')} {event.get('type', '?')}"
    if event.get("type") == "decision":
        return f"{head} {decision_line(event)}"
    if event.get("type") == "audit_review":
        return f"{head} {review_line(event)}"
    return f"{head} {rest}".rstrip()


def proof_text(check: "ProofCheck") -> str:
    verdict = "VALID" if check.valid else "INVALID"
    text = f"{verdict}: {_one(check.reason)}"
    if check.valid and check.key_source != "--key":
        text += " (checked with the key inside the bundle; pass --key with a key you trust)"
    return text
