"""Silence is an event: `heartbeat` escalates observations that stopped arriving, once, through
its own row of the matrix, over real channels (an SMTP server and an HTTP receiver on loopback),
and closes the escalation when they arrive again. It never changes the state of observation."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.errors import BusyError, ConfigError, RefusedError
from sealguard.escalation.dispatch import escalations
from sealguard.ledger import read_events
from sealguard.lock import observer_lock
from sealguard.observe.heartbeat import RESUMED_BY, heartbeat
from sealguard.observe.observation import observe
from sealguard.observe.status import status
from sealguard.project import Project
from sealguard.seal.sealing import seal

from .conftest import DEFAULT_CONFIG, MakeTree
from .receivers import HttpReceiver, smtp_server

T0 = datetime(2026, 11, 26, 18, 0, 0, tzinfo=UTC)
CHANNELS = """
[schedule]
every = "15m"

[channels.email]
host = "127.0.0.1"
port = {smtp}
from = "sealguard@example.org"
to = ["ops@example.org"]

[channels.webhook]
url = "{http}/hook"
timeout = "3s"

[escalation.SILENCE]
channels = ["email", "webhook"]
deadline = "1h"
"""


@dataclass
class Rig:
    project: Project
    http: HttpReceiver
    mailbox: object

    def config(self):  # type: ignore[no-untyped-def]
        return load_config(self.project.config_file)

    def types(self) -> list[str]:
        return [e["type"] for e in read_events(self.project.log_file)]

    def mails(self) -> int:
        return len(self.mailbox.messages)  # type: ignore[attr-defined]


@pytest.fixture
def rig(make_project: MakeTree) -> Iterator[Rig]:
    http = HttpReceiver().start()
    controller, mailbox = smtp_server()
    config = DEFAULT_CONFIG + CHANNELS.format(
        smtp=controller.port, http=f"http://127.0.0.1:{http.port}"
    )
    project = make_project(config=config)
    seal(project, load_config(project.config_file), jobs=1)
    yield Rig(project, http, mailbox)
    http.stop()
    controller.stop()


def test_a_silence_is_escalated_once_grouped_then_closed_when_observations_resume(
    rig: Rig,
) -> None:
    observe(rig.project, rig.config(), 1, now=T0)
    on_time = heartbeat(rig.project, rig.config(), T0 + timedelta(minutes=20))
    assert (on_time.exit_code, on_time.due.late_by_seconds, on_time.silence_id) == (0, 300.0, None)
    assert "heartbeat_silence" not in rig.types()

    silent = heartbeat(rig.project, rig.config(), T0 + timedelta(minutes=23))
    assert silent.exit_code == 69 and silent.opened and silent.escalation_id
    record = next(e for e in read_events(rig.project.log_file) if e["type"] == "heartbeat_silence")
    assert (record["since"], record["due_at"], record["late_by_seconds"]) == (
        "2026-11-26T18:00:00Z",
        "2026-11-26T18:15:00Z",
        480,
    )
    assert sorted((a["channel"], a["outcome"]) for a in silent.attempts) == [
        ("email", "delivered"),
        ("webhook", "delivered"),
    ]
    [hook] = rig.http.bodies("/hook")
    assert (hook["classification"], hook["event_id"]) == ("SILENCE", silent.silence_id)
    assert hook["why"] == [
        f"HEARTBEAT: no observation since 2026-11-26T18:00:00Z ({observe_id(rig)})"
    ]
    assert rig.mails() == 1

    # the timer stays dead: the next heartbeats page nobody again
    again = heartbeat(rig.project, rig.config(), T0 + timedelta(minutes=38))
    assert (again.exit_code, again.escalation_id, again.opened) == (69, silent.escalation_id, False)
    assert rig.types().count("escalation_created") == 1
    assert rig.types().count("escalation_grouped") == 1
    assert (rig.mails(), len(rig.http.bodies("/hook"))) == (1, 1)
    assert status(rig.project, rig.config()).state.mode == "OBSERVING"  # never frozen

    observe(rig.project, rig.config(), 1, now=T0 + timedelta(minutes=40))
    back = heartbeat(rig.project, rig.config(), T0 + timedelta(minutes=41))
    assert (back.exit_code, back.resumed, back.silence_id) == (0, silent.silence_id, None)
    esc = escalations(rig.project, rig.config())[str(silent.escalation_id)]
    assert esc.acknowledged_by == RESUMED_BY and "observations resumed: RTE_" in esc.note
    assert rig.types()[-2:] == ["heartbeat_resumed", "escalation_acknowledged"]
    # and once resumed, an on-time heartbeat journals nothing at all
    lines = len(rig.types())
    assert heartbeat(rig.project, rig.config(), T0 + timedelta(minutes=42)).resumed is None
    assert len(rig.types()) == lines


def observe_id(rig: Rig) -> str:
    return next(
        e["event_id"] for e in read_events(rig.project.log_file) if e["type"] == "runtime_event"
    )


def test_an_acknowledged_silence_is_not_paged_again(rig: Rig, invoke) -> None:
    observe(rig.project, rig.config(), 1, now=T0)
    silent = heartbeat(rig.project, rig.config(), T0 + timedelta(hours=1))
    ack = invoke(
        "--project", str(rig.project.root), "ack", str(silent.escalation_id), "--by", "olga"
    )
    assert ack.exit_code == 0, ack.output
    lines = len(rig.types())
    later = heartbeat(rig.project, rig.config(), T0 + timedelta(hours=2))
    assert later.exit_code == 69 and later.silence_id == silent.silence_id
    assert len(rig.types()) == lines and rig.mails() == 1


def test_a_new_silence_after_observations_resumed_is_a_new_escalation(rig: Rig) -> None:
    observe(rig.project, rig.config(), 1, now=T0)
    first = heartbeat(rig.project, rig.config(), T0 + timedelta(hours=1))
    observe(rig.project, rig.config(), 1, now=T0 + timedelta(hours=2))
    # no heartbeat saw them resume; the next one sees them stopped again
    second = heartbeat(rig.project, rig.config(), T0 + timedelta(hours=3))
    assert second.resumed == first.silence_id and second.opened
    assert second.escalation_id not in (None, first.escalation_id)
    assert rig.mails() == 2


def test_a_refused_observation_while_halted_is_a_sign_of_life(rig: Rig) -> None:
    now = datetime.now(UTC)
    (rig.project.root / "src/app.py").write_text("print('hot-fix')\n")
    incident = observe(rig.project, rig.config(), 1, now=now - timedelta(hours=2))
    assert incident.event.state_after == "HALTED"
    assert heartbeat(rig.project, rig.config(), now).exit_code == 69
    with pytest.raises(RefusedError):
        observe(rig.project, rig.config(), 1)  # the timer still runs: refused and journaled
    alive = heartbeat(rig.project, rig.config(), now + timedelta(minutes=1))
    assert alive.exit_code == 0 and alive.resumed is not None
    assert status(rig.project, rig.config()).state.mode == "HALTED"  # as it was


def test_the_seal_starts_the_clock(rig: Rig) -> None:
    now = datetime.now(UTC)
    assert heartbeat(rig.project, rig.config(), now + timedelta(minutes=5)).exit_code == 0
    assert heartbeat(rig.project, rig.config(), now + timedelta(minutes=30)).exit_code == 69


def test_a_heartbeat_waits_its_turn_behind_an_observation(rig: Rig) -> None:
    with observer_lock(rig.project.ledger(rig.config()).folder), pytest.raises(BusyError):
        heartbeat(rig.project, rig.config(), T0)
    assert "heartbeat_silence" not in rig.types()


def test_without_a_schedule_there_is_no_heartbeat(make_project: MakeTree, invoke) -> None:
    project = make_project()
    seal(project, load_config(project.config_file), jobs=1)
    with pytest.raises(ConfigError) as caught:
        heartbeat(project, load_config(project.config_file))
    assert "has no [schedule]" in caught.value.message
    result = invoke("--project", str(project.root), "heartbeat")
    assert result.exit_code == 78


def _sealguard(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "sealguard", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_the_command_exits_69_while_silent_and_75_behind_an_observation(rig: Rig) -> None:
    root = str(rig.project.root)
    observe(rig.project, rig.config(), 1, now=datetime.now(UTC) - timedelta(hours=2))
    done = _sealguard("--project", root, "heartbeat")
    assert done.returncode == 69, done.stderr
    first, *attempts = done.stdout.splitlines()
    assert first.startswith("SILENCE: no observation since ") and "(escalated now)" in first
    assert len(attempts) == 2 and rig.mails() == 1
    again = _sealguard("--project", root, "heartbeat")
    assert again.returncode == 69 and "(escalated now)" not in again.stdout
    with observer_lock(rig.project.ledger(rig.config()).folder):
        busy = _sealguard("--project", root, "heartbeat")
    assert busy.returncode == 75 and "another observation of this project is running" in busy.stderr
    shown = json.loads(_sealguard("--project", root, "status", "--json").stdout)["schedule"]
    assert shown["overdue"] and shown["late_by_seconds"] > 3600 and shown["every_seconds"] == 900


def test_status_says_when_the_next_observation_is_due(rig: Rig, invoke) -> None:
    root = str(rig.project.root)
    observe(rig.project, rig.config(), 1, now=datetime.now(UTC) - timedelta(minutes=1))
    text = invoke("--project", root, "status").output
    line = next(x for x in text.splitlines() if x.startswith("schedule:"))
    assert line.startswith("schedule: every 15m00s, grace 7m30s; last observation 20"), line
    assert line.endswith(": on time"), line
    data = json.loads(invoke("--project", root, "status", "--json").output)["schedule"]
    assert (data["late"], data["overdue"], data["grace_seconds"]) == (False, False, 450)
    observe(rig.project, rig.config(), 1, now=datetime.now(UTC) - timedelta(minutes=20))
    text = invoke("--project", root, "status").output
    assert "next due 20" in text and ": late by 5m" in text, text
    observe(rig.project, rig.config(), 1, now=datetime.now(UTC) - timedelta(hours=1))
    assert ": OVERDUE by 45m" in invoke("--project", root, "status").output


def test_status_without_a_schedule_shows_none(make_project: MakeTree, invoke) -> None:
    project = make_project()
    seal(project, load_config(project.config_file), jobs=1)
    assert "schedule:" not in invoke("--project", str(project.root), "status").output
    data = json.loads(invoke("--project", str(project.root), "status", "--json").output)
    assert data["schedule"] is None


def test_in_process_the_command_says_on_time_then_silence_then_resumed(rig: Rig, invoke) -> None:
    root = str(rig.project.root)
    observe(rig.project, rig.config(), 1, now=datetime.now(UTC) - timedelta(minutes=1))
    on_time = invoke("--project", root, "heartbeat")
    assert on_time.exit_code == 0 and on_time.output.startswith("next observation due 20")
    assert on_time.output.rstrip().endswith(": on time"), on_time.output
    observe(rig.project, rig.config(), 1, now=datetime.now(UTC) - timedelta(hours=1))
    silent = invoke("--project", root, "heartbeat")
    assert silent.exit_code == 69 and silent.output.startswith("SILENCE: no observation since ")
    assert (
        "escalation HBT" not in silent.output
        and "via email (attempt 1): delivered" in silent.output
    )
    observe(rig.project, rig.config(), 1)
    back = invoke("--project", root, "heartbeat")
    assert back.exit_code == 0 and back.output.startswith("observations resumed; silence HBT_")


def test_the_report_shows_the_schedule_as_status_does(rig: Rig, invoke, tmp_path: Path) -> None:
    root = str(rig.project.root)
    observe(rig.project, rig.config(), 1, now=datetime.now(UTC) - timedelta(hours=1))
    said = next(x for x in invoke("--project", root, "status").output.splitlines()
                if x.startswith("schedule:"))  # fmt: skip
    assert ": OVERDUE by 45m" in said
    data = json.loads(invoke("--project", root, "report", "--json").output)
    assert data["schedule"].split(": OVERDUE")[0] == said.split(": OVERDUE")[0]
    page = tmp_path / "report.html"
    assert invoke("--project", root, "report", "-o", str(page)).exit_code == 0
    assert '<dd id="schedule" class="bad">schedule: every 15m00s' in page.read_text()


def _holding(project: Project) -> subprocess.Popen[str]:
    """Another process holding the observer lock until its stdin closes."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from sealguard.lock import observer_lock\n"
         f"with observer_lock(Path({str(project.runtime)!r})):\n"
         "    print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(timeout=60) == 0


def _took_the_lock_ago(project: Project, seconds: float) -> None:
    """The lock file is written when the lock is taken: its time says since when it is held."""
    then = time.time() - seconds
    os.utime(project.runtime / ".observer.lock", (then, then))


def test_a_lock_held_past_a_period_and_the_grace_does_not_hide_a_silence(rig: Rig) -> None:
    root = str(rig.project.root)
    observe(rig.project, rig.config(), 1, now=datetime.now(UTC) - timedelta(hours=2))
    holder = _holding(rig.project)
    try:
        # taken 10 minutes ago: an observation under way, late but alive (15m + 7m30s)
        _took_the_lock_ago(rig.project, 600)
        alive = _sealguard("--project", root, "heartbeat")
        assert alive.returncode == 75, alive.stdout
        # taken 30 minutes ago: stopped or hung; so is `--wait`, which would wait forever
        _took_the_lock_ago(rig.project, 1800)
        before = rig.project.log_file.read_bytes()
        for args in ((), ("--wait",)):
            stuck = _sealguard("--project", root, "heartbeat", *args)
            assert stuck.returncode == 69, stuck.stderr
            [line] = stuck.stdout.splitlines()
            assert line.startswith("SILENCE: no observation since ")
            assert f"the observer lock has been held by pid {holder.pid} since " in line
            assert line.endswith("nothing journaled or escalated, that needs the lock")
        # journaling needs the lock: nothing was written, nobody paged
        assert rig.project.log_file.read_bytes() == before and rig.mails() == 0
    finally:
        _release(holder)
    # the lock free again, the silence is journaled and escalated as usual
    done = _sealguard("--project", root, "heartbeat")
    assert done.returncode == 69 and "(escalated now)" in done.stdout
    assert rig.types().count("heartbeat_silence") == 1


def test_a_heartbeat_that_waits_acts_once_the_lock_is_free(rig: Rig) -> None:
    observe(rig.project, rig.config(), 1, now=datetime.now(UTC) - timedelta(hours=2))
    holder = _holding(rig.project)
    argv = [sys.executable, "-m", "sealguard", "--project", str(rig.project.root)]
    waiting = subprocess.Popen([*argv, "heartbeat", "--wait"], stdout=subprocess.PIPE, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(timeout=3)  # a fresh holder is alive: it waits its turn
    finally:
        _release(holder)
    out, _ = waiting.communicate(timeout=120)
    assert waiting.returncode == 69 and "(escalated now)" in out
    assert rig.types().count("heartbeat_silence") == 1


def test_behind_an_unreadable_log_a_holder_is_counted_from_when_it_took_the_lock(
    rig: Rig,
) -> None:
    """Read without the lock, a log with a line that is no event cannot say when the last
    observation was; none was journaled since the holder took the lock, though."""
    holder = _holding(rig.project)
    try:
        with rig.project.log_file.open("ab") as log:
            log.write(b"not an event\n")
        _took_the_lock_ago(rig.project, 1800)
        beat = heartbeat(rig.project, rig.config())
        assert beat.exit_code == 69 and beat.stuck is not None
        assert beat.stuck.pid == str(holder.pid) and beat.due.last == beat.stuck.since
        # taken just now, it is at work: alive
        _took_the_lock_ago(rig.project, 0)
        with pytest.raises(BusyError):
            heartbeat(rig.project, rig.config())
    finally:
        _release(holder)
