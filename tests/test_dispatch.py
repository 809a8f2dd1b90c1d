"""Escalation end to end: observe records and delivers; a channel that is down is retried,
flagged overdue and handed on; a killed process loses nothing; secrets stay out of files."""

import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.demo import CONFIG, _copy_product
from sealguard.escalation.dispatch import deliver_due, escalations
from sealguard.ledger import read_events
from sealguard.observe.observation import observe
from sealguard.project import Project
from sealguard.seal.sealing import seal
from sealguard.seal.verify import verify

from .receivers import HttpReceiver, smtp_server

T0 = datetime(2026, 11, 26, 18, 0, 0, tzinfo=UTC)
SECRETS = {"SLACK_WEBHOOK_URL": None, "PD_ROUTING_KEY": "P" * 32, "SMTP_PASSWORD": "hunter2-smtp"}
ESCALATION = """
[channels.email]
host = "127.0.0.1"
port = {smtp}
from = "sealguard@example.org"
to = ["architect@example.org"]

[channels.slack]
url_env = "SLACK_WEBHOOK_URL"

[channels.pagerduty]
routing_key_env = "PD_ROUTING_KEY"
url = "{http}/pagerduty"
timeout = "3s"

[escalation]
TOOLING_DRIFT = {{ channels = ["email"], deadline = "24h" }}
PRODUCT_DRIFT = {{ channels = ["slack", "email"], deadline = "15m", fallback = ["pagerduty"] }}
INCIDENT = {{ channels = ["pagerduty", "slack"], deadline = "0s" }}
"""


@dataclass
class Rig:
    project: Project
    http: HttpReceiver
    mailbox: object

    def config(self):  # type: ignore[no-untyped-def]
        return load_config(self.project.config_file)


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    http = HttpReceiver().start()
    controller, mailbox = smtp_server()
    root = tmp_path / "fuelcalc"
    _copy_product(root)
    (root / "governance").mkdir()
    config = CONFIG.format(python=json.dumps(sys.executable)) + ESCALATION.format(
        smtp=controller.port, http=f"http://127.0.0.1:{http.port}"
    )
    (root / "governance/sealguard.toml").write_text(config)
    project = Project(root)
    seal(project, load_config(project.config_file), jobs=1)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", http.url("/slack") + "?token=slack-secret-token")
    monkeypatch.setenv("PD_ROUTING_KEY", SECRETS["PD_ROUTING_KEY"])
    yield Rig(project, http, mailbox)
    http.stop()
    controller.stop()


def drift(rig: Rig, now: datetime = T0):  # type: ignore[no-untyped-def]
    (rig.project.root / "data/reserve.json").write_text('{"reserve_kg": 1000}')
    return observe(rig.project, rig.config(), 1, now=now)


def types(rig: Rig) -> list[str]:
    return [
        e["type"] for e in read_events(rig.project.log_file) if e["type"].startswith("escalation_")
    ]


def test_product_drift_is_escalated_by_slack_and_email_at_once(rig: Rig) -> None:
    observation = drift(rig)
    assert observation.event.classification == "PRODUCT_DRIFT"
    assert [(a["channel"], a["outcome"]) for a in observation.attempts] == [
        ("slack", "delivered"),
        ("email", "delivered"),
    ]
    assert types(rig) == ["escalation_created", "escalation_attempt", "escalation_attempt"]
    text = rig.http.bodies("/slack")[0]["text"]
    for field in (observation.event.event_id, observation.event.snapshot.snapshot_id, observation.escalation_id,  # type: ignore[union-attr]
                  "PRODUCT_DRIFT", "an Architect must decide", "GOVERNANCE_LOG.ndjson", "-LFPG-EGLL"):  # fmt: skip
        assert field in text, field
    assert len(rig.mailbox.messages) == 1  # type: ignore[attr-defined]
    esc = escalations(rig.project, rig.config())[observation.escalation_id]  # type: ignore[index]
    assert esc.delivered and not esc.open
    report = verify(rig.project, rig.config(), 1)  # the outbox file is a recorded runtime file
    assert report.intact, report.differences


def test_a_channel_down_is_retried_flagged_overdue_and_handed_on(rig: Rig) -> None:
    rig.http.stop()  # Slack and PagerDuty are down
    observation = drift(rig)
    assert [(a["channel"], a["outcome"]) for a in observation.attempts] == [
        ("slack", "failed"),
        ("email", "delivered"),
    ]
    esc_id = observation.escalation_id
    assert (
        deliver_due(rig.project, rig.config(), T0 + timedelta(seconds=10)) == []
    )  # backoff: not due yet
    again = deliver_due(rig.project, rig.config(), T0 + timedelta(seconds=31))
    assert [(a["channel"], a["outcome"], a["attempt"]) for a in again] == [("slack", "failed", 2)]
    late = deliver_due(
        rig.project, rig.config(), T0 + timedelta(minutes=16)
    )  # past the 15 min deadline
    events = read_events(rig.project.log_file)
    overdue = next(e for e in events if e["type"] == "escalation_overdue")
    assert (
        overdue["escalation_id"] == esc_id
        and overdue["undelivered"] == ["slack"]
        and overdue["handed_to"] == ["pagerduty"]
    )
    assert sorted(a["channel"] for a in late) == ["pagerduty", "slack"] and all(
        a["outcome"] == "failed" for a in late
    )
    rig.http.start()  # recovery, on the same port
    recovered = deliver_due(rig.project, rig.config(), T0 + timedelta(minutes=30))
    assert sorted((a["channel"], a["outcome"]) for a in recovered) == [
        ("pagerduty", "delivered"),
        ("slack", "delivered"),
    ]
    esc = escalations(rig.project, rig.config())[esc_id]  # type: ignore[index]
    assert esc.delivered and esc.overdue_at is not None
    assert rig.http.incidents == {observation.event.event_id}
    assert types(rig).count("escalation_overdue") == 1


def test_acknowledged_escalations_stop_being_retried(rig: Rig, invoke) -> None:
    rig.http.stop()
    observation = drift(rig)
    result = invoke(
        "--project",
        str(rig.project.root),
        "ack",
        observation.escalation_id,
        "--by",
        "alice",
        "--note",
        "looking",
    )
    assert result.exit_code == 0 and "acknowledged" in result.output
    assert deliver_due(rig.project, rig.config(), T0 + timedelta(hours=2)) == []
    again = invoke(
        "--project", str(rig.project.root), "ack", observation.escalation_id, "--by", "bob"
    )
    assert again.exit_code == 64 and "already acknowledged by alice" in again.stderr
    rig.http.start()


def test_an_escalation_acknowledged_in_time_is_never_called_overdue(rig: Rig, invoke) -> None:
    """Acknowledged before its deadline: `overdue` stays false however late it is read."""
    from sealguard.report.narrative import escalations_json

    observation = drift(rig, now=datetime.now(UTC))
    root = str(rig.project.root)
    assert invoke("--project", root, "ack", observation.escalation_id, "--by", "a").exit_code == 0
    found = list(escalations(rig.project, rig.config()).values())
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    [shown] = escalations_json(found, later)
    assert (shown["acknowledged_by"], shown["overdue"]) == ("a", False)


def test_incident_pages_at_once_with_the_event_as_dedup_key(rig: Rig) -> None:
    source = rig.project.root / "src/fuelcalc/fuel.py"
    source.write_text(source.read_text() + "\n# hot-fix\n")
    observation = observe(rig.project, rig.config(), 1, now=T0)
    assert observation.event.classification == "INCIDENT"
    body = rig.http.bodies("/pagerduty")[0]
    assert (
        body["dedup_key"] == observation.event.event_id
        and body["payload"]["severity"] == "critical"
    )
    assert [(a["channel"], a["outcome"]) for a in observation.attempts] == [
        ("pagerduty", "delivered"),
        ("slack", "delivered"),
    ]


def test_status_and_escalations_show_open_ones_with_time_left(rig: Rig, invoke) -> None:
    rig.http.stop()
    observation = drift(rig, now=datetime.now(UTC))
    status = invoke("--project", str(rig.project.root), "status")
    assert "open escalations:" in status.output and observation.escalation_id in status.output
    assert "left" in status.output.split(observation.escalation_id)[1].splitlines()[0]
    listed = json.loads(
        invoke("--project", str(rig.project.root), "escalations", "--pending", "--json").output
    )
    assert [e["escalation_id"] for e in listed] == [observation.escalation_id]
    assert listed[0]["seconds_left"] > 800 and not listed[0]["overdue"]
    assert (
        json.loads(
            invoke("--project", str(rig.project.root), "escalations", "--overdue", "--json").output
        )
        == []
    )
    rig.http.start()


def test_escalations_test_channel(rig: Rig, invoke) -> None:
    result = invoke("--project", str(rig.project.root), "escalations", "test", "slack")
    assert result.exit_code == 0 and result.output.startswith("test via slack: delivered")
    assert rig.http.bodies("/slack")[0]["text"].startswith("*[TEST]*")
    assert types(rig) == ["escalation_test"]
    rig.http.stop()
    down = invoke("--project", str(rig.project.root), "escalations", "test", "slack")
    assert (
        down.exit_code == 69 and "failed" in down.output and "slack-secret-token" not in down.output
    )
    rig.http.start()


def _incident_killed_when(rig: Rig, ready: Callable[[], bool]) -> None:
    """Hot-fix a sealed file, observe in another process, SIGKILL it as soon as `ready()`."""
    source = rig.project.root / "src/fuelcalc/fuel.py"
    source.write_text(source.read_text() + "\n# hot-fix\n")
    env = {**os.environ, "PD_ROUTING_KEY": SECRETS["PD_ROUTING_KEY"]}
    argv = [sys.executable, "-m", "sealguard", "--project", str(rig.project.root), "observe"]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not ready():
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_killed_between_recording_and_sending_is_delivered_by_the_next_run_exactly_once(
    rig: Rig, tmp_path: Path
) -> None:
    """An INCIDENT pages through PagerDuty; the first process is killed while it waits to send."""
    rig.http.delay = 60  # the receiver takes the request, then hangs: the outcome is unknown
    _incident_killed_when(rig, lambda: bool(rig.http.bodies("/pagerduty")))
    assert "escalation_created" in types(rig) and "escalation_attempt" not in types(rig)
    rig.http.delay = 0
    attempts = deliver_due(rig.project, rig.config(), datetime.now(UTC))
    assert [(a["channel"], a["outcome"]) for a in attempts] == [
        ("pagerduty", "delivered"),
        ("slack", "delivered"),
    ]
    assert len(rig.http.bodies("/pagerduty")) == 2  # sent again, since its outcome was never known
    assert len(rig.http.incidents) == 1  # but one dedup key: PagerDuty opens one incident
    assert deliver_due(rig.project, rig.config(), datetime.now(UTC) + timedelta(hours=1)) == []


def test_no_secret_in_any_file_sealguard_wrote(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.http.stop()
    drift(rig)  # attempts fail, and their details are journaled
    deliver_due(rig.project, rig.config(), T0 + timedelta(minutes=20))
    rig.http.start()
    deliver_due(rig.project, rig.config(), T0 + timedelta(minutes=40))
    secrets = [os.environ["SLACK_WEBHOOK_URL"], "slack-secret-token", SECRETS["PD_ROUTING_KEY"]]
    written = [
        p
        for p in (rig.project.root / "governance").rglob("*")
        if p.is_file() and "keys" not in p.parts
    ]
    for export in (rig.project.root / "governance/runtime/exports").glob("*.tar.gz"):
        with tarfile.open(export) as tar:
            tar.extractall(tmp_path / "exported", filter="data")
    written += [p for p in (tmp_path / "exported").rglob("*") if p.is_file()]
    assert len(written) > 10
    for path in written:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"{secret[:6]}… found in {path}"


def test_killed_before_the_notice_left_is_sent_by_the_next_run(rig: Rig) -> None:
    """PagerDuty's port holds a server that never reads: the first process is killed while its
    notice has not reached anyone; `escalations deliver` then sends it, once."""
    port = rig.http.port
    rig.http.stop()
    hole = socket.socket()
    hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hole.bind(("127.0.0.1", port))
    hole.listen(8)
    _incident_killed_when(rig, lambda: "escalation_created" in types(rig))
    hole.close()
    assert types(rig) == ["escalation_created"]
    rig.http.start()
    assert rig.http.port == port and rig.http.requests == []
    attempts = deliver_due(rig.project, rig.config(), datetime.now(UTC))
    assert [(a["channel"], a["outcome"]) for a in attempts] == [
        ("pagerduty", "delivered"),
        ("slack", "delivered"),
    ]
    assert len(rig.http.bodies("/pagerduty")) == 1 and len(rig.http.incidents) == 1
