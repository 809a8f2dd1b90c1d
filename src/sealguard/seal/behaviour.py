"""The behaviour baseline: what each probe gave when the build was sealed.

Under governance/baseline/<probe>/: `output.normalized` (the normalised output) and
`probe.json` (its hash, the verdict and every test's status, the format signature, the tool
version, the command and the normalisers in force). Both are listed in BASELINE_REF.sha256.
"""

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sealguard.config import ProbeConfig
from sealguard.errors import DataError
from sealguard.facts import ProbeBaseline, ProbeFacts
from sealguard.probes import normalize
from sealguard.project import BASELINE_DIR

if TYPE_CHECKING:  # running probes is not needed to read a baseline (verify, status)
    from sealguard.probes.run import ProbeEvidence


def probe_folder(governance: Path, name: str) -> Path:
    return governance / BASELINE_DIR / name


def _why_failed(facts: ProbeFacts) -> str:
    """What the run says about its failure: the command not found, or the failing tests."""
    if facts.exit_code in (126, 127) and facts.cause:
        return f": the command was not found, the console says `{facts.cause}`"
    failing = sorted(n for n, s in facts.tests.items() if s in ("failed", "error"))
    failing = failing or sorted(facts.console.failing)
    if not failing:
        return ""
    more = f" (+{len(failing) - 3} more)" if len(failing) > 3 else ""
    return f": {len(failing)} failing: {', '.join(failing[:3])}{more}"


def refuse_unsound(evidence: "ProbeEvidence") -> None:
    """A baseline is sealed only from a clean, passing run."""
    facts = evidence.facts
    problems = []
    if facts.timed_out:
        problems.append("it timed out")
    elif facts.not_started:
        problems.append(f"it could not start ({facts.not_started})")
    elif facts.verdict != "PASS":
        problems.append(
            f"its verdict is FAIL (exit {facts.exit_code}, expected {facts.expect_exit}"
            f"{_why_failed(facts)})"
        )
    if facts.survivors:
        problems.append(f"it left {len(facts.survivors)} process(es) running (killed)")
    if facts.report_state not in ("ok", "none"):
        problems.append(f"its report is {facts.report_state} ({facts.report_problem})")
    if problems:
        raise DataError(
            f"probe {facts.name}: {' and '.join(problems)}; "
            "a baseline must come from a clean passing run "
            f"(see {evidence.files['stdout.txt']} and stderr.txt)"
        )


OBSERVED = "observed.json"  # in a snapshot: what probe.json would hold if this run were accepted


def describe(probe: ProbeConfig, evidence: "ProbeEvidence") -> bytes:
    """probe.json's content for this run: what a baseline keeps of it."""
    facts = evidence.facts
    data: dict[str, Any] = {
        "name": probe.name,
        "kind": probe.report,
        "command": probe.command,
        "expect_exit": probe.expect_exit,
        "normalize": normalize.describe(probe.normalize, probe.report),
        "output_sha256": facts.output_sha256,
        "verdict": facts.verdict,
        "tests": dict(sorted(facts.tests.items())),
        "test_count": facts.test_count,
        "format": facts.format,
        "tool_version": facts.tool_version,
    }
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def record(probe: ProbeConfig, evidence: "ProbeEvidence", governance: Path) -> list[Path]:
    """Write the probe's baseline files; returns them."""
    folder = probe_folder(governance, probe.name)
    folder.mkdir(parents=True, exist_ok=True)
    output = folder / "output.normalized"
    shutil.copyfile(evidence.files["output.normalized"], output)
    meta = folder / "probe.json"
    meta.write_bytes(describe(probe, evidence))
    return [output, meta]


def load(governance: Path, name: str) -> ProbeBaseline | None:
    """The sealed baseline of one probe, or None when there is none."""
    try:
        data = json.loads(
            (probe_folder(governance, name) / "probe.json").read_text(encoding="utf-8")
        )
        return ProbeBaseline(
            output_sha256=data["output_sha256"],
            verdict=data["verdict"],
            tests=data["tests"],
            test_count=data["test_count"],
            format=data["format"],
            tool_version=data["tool_version"],
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"{probe_folder(governance, name)}/probe.json: unreadable baseline ({exc})"
        ) from None


def summary(governance: Path, name: str) -> dict[str, Any]:
    """The part of a probe's baseline that the sealing event records."""
    data = json.loads((probe_folder(governance, name) / "probe.json").read_text(encoding="utf-8"))
    return {k: data[k] for k in ("name", "output_sha256", "verdict", "test_count", "tool_version")}
