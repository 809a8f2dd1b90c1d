"""Escalations as a person on call needs them: a channel nobody configured is said once, not
retried; repeats of one cause are one escalation with a count; a person's `deliver` sends every
pending notice at once; an INCIDENT's retries stay within seconds."""

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sealguard.config import load_config
from sealguard.demo import _sealed_copy
from sealguard.escalation.dispatch import deliver_due, escalations
from sealguard.ledger import read_events
from sealguard.observe.observation import observe
from sealguard.project import Project

from .test_dispatch import T0, Rig, rig, types  # noqa: F401  (rig is a fixture)


def _tool_gone(project: Project) -> None:
    (project.root / "tools/fuel-probe").rename(project.root / "tools/fuel-probe.gone")


def test_no_channel_configured_is_recorded_once_as_undeliverable(tmp_path: Path, invoke) -> None:
    project = _sealed_copy(tmp_path / "fuelcalc")  # the default matrix, no [channels.*]
    _tool_gone(project)
    observation = observe(project, load_config(project.config_file), 1, now=T0)
    assert observation.event.classification == "TOOLING_DRIFT"
    assert observation.attempts == ()  # no attempt to a channel that does not exist
    for later in (timedelta(minutes=1), timedelta(hours=1), timedelta(days=2)):
        assert deliver_due(project, load_config(project.config_file), T0 + later) == []
    kinds = [e["type"] for e in read_events(project.log_file) if e["type"].startswith("escal")]
    assert kinds == ["escalation_created", "escalation_undeliverable", "escalation_overdue"]
    said = next(e for e in read_events(project.log_file) if e["type"] == "escalation_undeliverable")
    assert said["channels"] == ["email"] and "[channels.email]" in said["reason"]
    status = invoke("--project", str(project.root), "status").output
    assert "[email: undeliverable (not configured)]" in status, status


def test_repeats_of_one_cause_are_one_escalation_with_a_count(rig: Rig, invoke) -> None:  # noqa: F811
    rig.http.stop()
    _tool_gone(rig.project)
    seen = [
        observe(rig.project, rig.config(), 1, now=T0 + timedelta(seconds=20 * i)) for i in range(3)
    ]
    assert {o.event.classification for o in seen} == {"TOOLING_DRIFT"}
    assert {o.escalation_id for o in seen} == {seen[0].escalation_id}
    assert types(rig).count("escalation_created") == 1
    assert types(rig).count("escalation_grouped") == 2
    assert len(rig.mailbox.messages) == 1  # type: ignore[attr-defined]
    esc = escalations(rig.project, rig.config())[seen[0].escalation_id]  # type: ignore[index]
    assert esc.count == 3 and esc.latest_event_id == seen[2].event.event_id
    listed = json.loads(invoke("--project", str(rig.project.root), "escalations", "--json").output)
    assert [(e["count"], e["latest_event_id"]) for e in listed] == [(3, seen[2].event.event_id)]
    text = invoke("--project", str(rig.project.root), "escalations").output
    assert f"seen 3 times, latest {seen[2].event.event_id}" in text, text
    rig.http.start()


def test_another_cause_or_an_acknowledged_one_opens_a_new_escalation(rig: Rig, invoke) -> None:  # noqa: F811
    _tool_gone(rig.project)
    first = observe(rig.project, rig.config(), 1, now=T0)
    invoke("--project", str(rig.project.root), "ack", first.escalation_id, "--by", "alice")
    second = observe(rig.project, rig.config(), 1, now=T0 + timedelta(minutes=1))
    assert second.escalation_id not in (None, first.escalation_id)
    (rig.project.root / "tools/fuel-probe.gone").rename(rig.project.root / "tools/fuel-probe")
    (rig.project.root / "data/reserve.json").write_text('{"reserve_kg": 1000}')
    third = observe(rig.project, rig.config(), 1, now=T0 + timedelta(minutes=2))
    assert third.event.classification == "PRODUCT_DRIFT"
    assert third.escalation_id not in (None, first.escalation_id, second.escalation_id)


def test_an_acknowledged_escalation_shows_who_and_when_and_no_deadline(rig: Rig, invoke) -> None:  # noqa: F811
    rig.http.stop()
    _tool_gone(rig.project)
    esc_id = observe(rig.project, rig.config(), 1, now=datetime.now(UTC)).escalation_id
    assert esc_id is not None
    invoke("--project", str(rig.project.root), "ack", esc_id, "--by", "alice", "--note", "on it")
    row = invoke("--project", str(rig.project.root), "escalations").output
    assert "acknowledged by alice at 20" in row and "left" not in row, row
    data = json.loads(invoke("--project", str(rig.project.root), "escalations", "--json").output)[0]
    assert data["acknowledged_by"] == "alice" and data["acknowledged_at"].startswith("20")
    assert data["seconds_left"] is None
    rig.http.start()


def test_an_incident_is_retried_within_seconds(rig: Rig) -> None:  # noqa: F811
    rig.http.stop()
    source = rig.project.root / "src/fuelcalc/fuel.py"
    source.write_text(source.read_text() + "\n# hot-fix\n")
    observation = observe(rig.project, rig.config(), 1, now=T0)
    assert observation.event.classification == "INCIDENT"
    assert {a["outcome"] for a in observation.attempts} == {"failed"}
    rig.http.start()
    again = deliver_due(rig.project, rig.config(), T0 + timedelta(seconds=10))
    assert sorted((a["channel"], a["outcome"]) for a in again) == [
        ("pagerduty", "delivered"),
        ("slack", "delivered"),
    ]


def test_a_person_delivering_sends_every_pending_notice_at_once(rig: Rig, invoke) -> None:  # noqa: F811
    rig.http.stop()
    (rig.project.root / "data/reserve.json").write_text('{"reserve_kg": 1000}')
    observation = observe(rig.project, rig.config(), 1, now=datetime.now(UTC))
    assert ("slack", "failed") in [(a["channel"], a["outcome"]) for a in observation.attempts]
    rig.http.start()  # the channel is back; its next attempt is not due for 30 s
    result = invoke("--project", str(rig.project.root), "escalations", "deliver")
    assert result.exit_code == 0
    assert (
        f"escalation {observation.escalation_id} via slack (attempt 2): delivered" in result.output
    )


def test_watch_retries_an_incident_between_rounds(rig: Rig) -> None:  # noqa: F811
    """Retries within seconds mean little if only the next round (an hour on) makes them."""
    rig.http.stop()
    source = rig.project.root / "src/fuelcalc/fuel.py"
    source.write_text(source.read_text() + "\n# hot-fix\n")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "sealguard", "--project", str(rig.project.root), "watch", "--every", "1h"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        while "escalation_attempt" not in types(rig):
            assert watcher.poll() is None, watcher.communicate()
            time.sleep(0.05)
        rig.http.start()  # back: the next attempt is due within seconds, not at the next round
        deadline = time.monotonic() + 60
        while not rig.http.bodies("/pagerduty") and time.monotonic() < deadline:
            time.sleep(0.05)
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert rig.http.bodies("/pagerduty"), out + err
    assert "via pagerduty (attempt 2): delivered" in out, out
    assert watcher.returncode == 143


def test_the_pause_between_rounds_delivers_what_falls_due(rig: Rig) -> None:  # noqa: F811
    """In process: the retry made while `watch` waits between two rounds is a round of its own
    (`Retried`), and does not count as one."""
    from sealguard.observe.watch import NotObserving, Retried, exit_code, watch

    rig.http.stop()
    source = rig.project.root / "src/fuelcalc/fuel.py"
    source.write_text(source.read_text() + "\n# hot-fix\n")
    # journaled 3 s ahead: its retry falls due 8 s from now, well after the first round
    observe(rig.project, rig.config(), 1, now=datetime.now(UTC) + timedelta(seconds=3))
    rig.http.start()
    rounds = list(watch(rig.project, interval=10, jobs=1, count=2))
    assert [type(r) for r in rounds] == [NotObserving, Retried, NotObserving]
    retried = rounds[1]
    assert isinstance(retried, Retried)
    assert sorted((a["channel"], a["outcome"]) for a in retried.attempts) == [
        ("pagerduty", "delivered"),
        ("slack", "delivered"),
    ]
    assert exit_code(rounds[-1]) == 3
