"""A governed history for the report's tests, made by real sealguard commands: the demo's
product sealed with two architects (accept needs both), escalations delivered to real servers on
loopback (one delivery failing first), and every class observed once or more."""

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from sealguard import ledger
from sealguard.cli import cli
from sealguard.demo import CONFIG, RUNNER, TAMPERED, _copy_product
from sealguard.project import Project

from .decision_projects import authority_text, key_args, make_team
from .receivers import HttpReceiver, smtp_server

# a `<script>` where the log carries text people typed: it must be shown as text
SCRIPT = "<script>document.title='pwned'</script>"
ESCALATION = """
[channels.email]
host = "127.0.0.1"
port = {smtp}
from = "sealguard@example.org"
to = ["architect@example.org"]

[channels.slack]
url = "{http}/slack"

[escalation]
TOOLING_DRIFT = {{ channels = ["email"], deadline = "24h" }}
PRODUCT_DRIFT = {{ channels = ["slack", "email"], deadline = "15m" }}
INCIDENT = {{ channels = ["slack"], deadline = "0s" }}
"""


@dataclass(frozen=True)
class History:
    project: Project
    ids: dict[str, str]  # stable, tooling, drift, incident, decision, esc_tooling, esc_drift

    def copy(self, target: Path) -> Project:
        """A copy to run commands on: a test writes only in its own folder."""
        shutil.copytree(self.project.root, target, symlinks=True)
        return Project(target)


def run(project: Project, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(project.root), *args])


def observed(project: Project, code: int) -> dict[str, Any]:
    done = run(project, "observe", "--json")
    assert done.exit_code == code, done.output
    event: dict[str, Any] = json.loads(done.stdout)
    return event


def _escalation_of(project: Project, event_id: str) -> str:
    found = [
        e["escalation_id"]
        for e in ledger.read_events(project.log_file)
        if e.get("type") == "escalation_created" and e.get("event_id") == event_id
    ]
    assert found, event_id
    return str(found[-1])


def build_history(base: Path) -> History:
    http = HttpReceiver().start()
    controller, _ = smtp_server()
    try:
        return _build(base, http, controller.port)
    finally:
        controller.stop()
        http.stop()


def _build(base: Path, http: HttpReceiver, smtp: int) -> History:
    team = make_team(base / "keys")
    project = Project(base / "fuelcalc")
    _copy_product(project.root)
    project.governance.mkdir()
    config = CONFIG.format(python=json.dumps(sys.executable))
    config += ESCALATION.format(smtp=smtp, http=f"http://127.0.0.1:{http.port}")
    project.config_file.write_text(config)
    project.authority_file.write_text(authority_text(team, "accept = 2"))
    assert run(project, "seal").exit_code == 0
    ids = {"stable": observed(project, 0)["event_id"]}
    runner = project.root / RUNNER
    kept = runner.read_bytes()
    runner.unlink()
    ids["tooling"] = observed(project, 1)["event_id"]
    runner.write_bytes(kept)
    runner.chmod(0o755)
    ids["esc_tooling"] = _escalation_of(project, ids["tooling"])
    acked = run(project, "ack", ids["esc_tooling"], "--by", "Olga Petit", "--note", SCRIPT)
    assert acked.exit_code == 0, acked.output
    observed(project, 0)
    time.sleep(1.1)  # the drift in a later second than what came before: a period can start there
    http.statuses["/slack"] = [500]  # the first delivery fails, the next run delivers it
    (project.root / "data/reserve.json").write_text('{"reserve_kg": 900}\n')
    ids["drift"] = observed(project, 2)["event_id"]
    ids["esc_drift"] = _escalation_of(project, ids["drift"])
    assert run(project, "escalations", "deliver").exit_code == 0
    decided = run(project, "decide", ids["drift"], "accept", "--reason",
                  f"reserve approved {SCRIPT}", *key_args(team.alice, team.bob))  # fmt: skip
    assert decided.exit_code == 0, decided.output
    observed(project, 0)
    tampered = project.root / TAMPERED
    tampered.write_text(tampered.read_text() + "\n# hot-fix\n")
    ids["incident"] = observed(project, 3)["event_id"]
    return History(project, ids)


@pytest.fixture(scope="session", name="history")
def history_fixture(tmp_path_factory: pytest.TempPathFactory) -> History:
    """Built once per run; tests read it, or `copy` it to act on it."""
    return build_history(tmp_path_factory.mktemp("report-history"))
