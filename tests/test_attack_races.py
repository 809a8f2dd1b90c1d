"""Adversarial rounds (issue 8 review): other log writers running while an observation checks.

`escalations deliver`, `ack` and `escalations test` append to the log without the observer
lock, so an observation's (or a `verify`'s) audit of the log races with their appends. A real
appender process and a real auditor, many rounds: the audit must never report the appender's
own, announced lines as an INV-D-03 violation.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from sealguard import ledger
from sealguard.ledger import Ledger
from sealguard.observe.observation import _violations
from sealguard.seal.settings import config_in_force

from .probe_projects import cat_project

APPENDER = """
import sys
from pathlib import Path
from sealguard import ledger
led = ledger.Ledger.in_folder(Path(sys.argv[1]))
for i in range(int(sys.argv[2])):
    ledger.append(led, "escalation_attempt", {"attempt": i, "detail": "x" * 200})
"""


@pytest.mark.slow
def test_audit_concurrent_with_appends_reports_nothing(tmp_path: Path) -> None:
    """Found in review: the auditor read checkpoints, lines and the pending announcement without
    the writer's flock, so an append in between read as unsigned. Writers now wait on a shared
    lock while the auditor reads."""
    folder = tmp_path / "runtime"
    led = Ledger.in_folder(folder)
    ledger.append(led, "baseline_sealed", {"baseline_sha256": "0" * 64})
    writer = subprocess.Popen([sys.executable, "-c", APPENDER, str(folder), "400"])
    problems: list[str] = []
    audits = 0
    try:
        while writer.poll() is None:
            report = ledger.audit(led)
            audits += 1
            problems += [p.message for p in report.problems]
    finally:
        writer.wait()
    assert writer.returncode == 0
    assert audits > 0
    assert problems == [], f"{len(problems)} false problem(s) in {audits} audits: {problems[:3]}"


def test_an_observation_checks_while_deliver_appends_without_a_false_incident(
    tmp_path: Path,
) -> None:
    """The observation's invariant checks, while another process appends (as `escalations
    deliver` does, without the observer lock): no INV-D-03, so no INCIDENT journaled."""
    project = cat_project(tmp_path)
    config = config_in_force(project)
    writer = subprocess.Popen([sys.executable, "-c", APPENDER, str(project.runtime), "150"])
    found: list[str] = []
    checks = 0
    try:
        while writer.poll() is None:
            found += [f"{v.invariant} {v.detail}" for v in _violations(project, config, 1)]
            checks += 1
    finally:
        writer.wait()
    assert writer.returncode == 0
    assert checks > 0
    assert found == [], f"{len(found)} false violation(s) in {checks} checks: {found[:3]}"
