"""Turning reports into what people and scripts read. No I/O: callers print the result."""

from typing import TYPE_CHECKING, Any

from sealguard.exitcodes import ExitCode
from sealguard.integrity import CHANGES, Difference, group_by_change

if TYPE_CHECKING:
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
        return (
            f"INTACT: {checked} match the baseline (sha256 {report.baseline_sha256}); "
            f"{size_text(report.bytes)} read in {seconds:.2f} s"
        )
    counts = _counts(report.differences)
    invariants = sorted({d.invariant for d in report.differences})
    lines = [
        "INCIDENT: the sealed build does not match its baseline ("
        + ", ".join(invariants or ["INV-D-02"])
        + "): "
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
        "checked": {"files": report.files, "symlinks": report.symlinks, "bytes": report.bytes},
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
