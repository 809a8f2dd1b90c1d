"""`sealguard fleet status` and `fleet report`: every project x host of a fleet database, as the
hosts shipped them through the real CLI (seal, observe with a real probe or files only)."""

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from sealguard.fleet import rendering
from sealguard.fleet import status as fleet_status

from .fleet_db import fleet_url, governed, sg  # noqa: F401 (fixture)

STATUS_KEYS = {
    "project", "host", "build", "origin", "state", "since", "because", "reason",
    "last_observation", "baseline_version", "open_escalations", "overdue_escalations",
    "escalations", "lines", "checkpoint", "head_at", "last_report", "silent", "refused",
    "incident", "head_problem", "retired",
}  # fmt: skip


@pytest.fixture
def fleet(tmp_path: Path, fleet_url: str) -> dict[str, Path]:  # noqa: F811
    """calc on h1 and h2 (a probe each), docs on h1 (files only): sealed and observed once;
    then calc on h2 drifts (its probe's answer changed: PRODUCT_DRIFT, FROZEN)."""
    hosts = {
        "calc@h1": governed(tmp_path / "calc-h1", fleet_url, "calc", "h1"),
        "calc@h2": governed(tmp_path / "calc-h2", fleet_url, "calc", "h2"),
        "docs@h1": governed(tmp_path / "docs-h1", fleet_url, "docs", "h1", probe=False),
    }
    for root in hosts.values():
        assert sg("--project", str(root), "seal").exit_code == 0
        done = sg("--project", str(root), "observe")
        assert done.exit_code == 0, done.output
    (hosts["calc@h2"] / "answer.txt").write_text("41\n")
    drift = sg("--project", str(hosts["calc@h2"]), "observe")
    assert drift.exit_code == 2, drift.output
    return hosts


def _rows(url: str) -> dict[str, dict[str, object]]:
    done = sg("fleet", "status", "--url", url, "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    return {f"{row['project']}@{row['host']}": row for row in data["logs"]}


def _last_event(root: Path) -> dict[str, object]:
    done = sg("--project", str(root), "status", "--json")
    return json.loads(done.stdout)["recent"][-1]  # type: ignore[no-any-return]


def test_status_shows_each_project_and_host_and_the_drift(
    fleet: dict[str, Path],
    fleet_url: str,  # noqa: F811
) -> None:
    done = sg("fleet", "status", "--url", fleet_url)
    assert done.exit_code == 0, done.output
    text = done.stdout
    drift = _last_event(fleet["calc@h2"])
    lines = {
        "@".join(line.split()[:2]): line
        for line in text.splitlines()
        if line.split()[:1] in (["calc"], ["docs"])
    }
    assert set(lines) == {"calc@h1", "calc@h2", "docs@h1"}
    assert "FROZEN" in lines["calc@h2"] and "OBSERVING" not in lines["calc@h2"]
    assert "OBSERVING" in lines["calc@h1"] and "OBSERVING" in lines["docs@h1"]
    assert str(drift["event_id"]) in text
    assert "PRODUCT_DRIFT" in lines["calc@h2"]
    assert "INCIDENT" not in text

    rows = _rows(fleet_url)
    calc2 = rows["calc@h2"]
    assert calc2["state"] == "FROZEN"
    assert calc2["because"] == drift["event_id"]
    assert calc2["last_observation"] == {
        "event_id": drift["event_id"],
        "classification": "PRODUCT_DRIFT",
        "observed_at": drift["observed_at"],
        "purpose": "observation",
    }
    assert calc2["baseline_version"] == 1
    assert calc2["open_escalations"] == 1 and calc2["overdue_escalations"] == 0
    assert rows["calc@h1"]["state"] == rows["docs@h1"]["state"] == "OBSERVING"
    assert rows["calc@h1"]["open_escalations"] == 0
    assert all(row["refused"] == [] and row["incident"] is False for row in rows.values())
    for name, row in rows.items():  # the lines the database holds: every line of the host's log
        log = fleet[name] / "governance" / "runtime" / "GOVERNANCE_LOG.ndjson"
        assert row["lines"] == len(log.read_bytes().splitlines()) == row["head_at"]


def test_json_has_stable_documented_keys(
    fleet: dict[str, Path],
    fleet_url: str,  # noqa: F811
) -> None:
    done = sg("fleet", "status", "--url", fleet_url, "--json")
    data = json.loads(done.stdout)
    assert set(data) == {"database", "generated_at", "logs", "incidents", "silent",
                         "unreported"}  # fmt: skip
    assert data["database"] == fleet_url.split("?", maxsplit=1)[0]
    assert data["incidents"] == 0 and data["silent"] == 0
    assert [(r["project"], r["host"]) for r in data["logs"]] == [
        ("calc", "h1"), ("calc", "h2"), ("docs", "h1"),
    ]  # fmt: skip
    for row in data["logs"]:
        assert set(row) == STATUS_KEYS
        assert set(row["checkpoint"]) == {"size", "accepted"}
        assert row["checkpoint"]["size"] == row["lines"]
        assert row["silent"] is None
    (escalation,) = data["logs"][1]["escalations"]
    assert set(escalation) == {
        "escalation_id", "event_id", "classification", "created_at", "deadline_at", "overdue",
    }  # fmt: skip
    assert escalation["classification"] == "PRODUCT_DRIFT" and escalation["overdue"] is False


def _reseal(root: Path) -> None:
    """The project wiped and sealed again on the same host: a new log key, a new origin."""
    shutil.rmtree(root / "governance" / "runtime")
    shutil.rmtree(root / "governance" / "baseline")
    (root / "governance" / "BASELINE_REF.sha256").unlink()
    done = sg("--project", str(root), "seal")
    assert done.exit_code == 0, done.output  # sealed here: only the database refuses it


def test_a_resealed_host_is_an_incident_and_exits_3(
    fleet: dict[str, Path],
    fleet_url: str,  # noqa: F811
) -> None:
    _reseal(fleet["calc@h1"])
    done = sg("fleet", "status", "--url", fleet_url)
    assert done.exit_code == 3, done.output
    assert "INCIDENT" in done.stdout
    assert "re-sealed or re-keyed" in done.stdout
    flagged = [line for line in done.stdout.splitlines() if line.startswith("INCIDENT")]
    assert len(flagged) == 1 and "calc on h1" in flagged[0]

    data = json.loads(sg("fleet", "status", "--url", fleet_url, "--json").stdout)
    assert data["incidents"] == 1
    row = next(r for r in data["logs"] if (r["project"], r["host"]) == ("calc", "h1"))
    assert row["incident"] is True
    (refusal,) = row["refused"]
    assert refusal["status"] == 409 and "re-sealed" in refusal["reason"]


def test_a_rewritten_log_is_an_incident(
    fleet: dict[str, Path],
    fleet_url: str,  # noqa: F811
) -> None:
    """What a host whose log was rewritten sends: its second line, other than the database
    holds it. The database refuses it and keeps the refusal; status flags the log until the
    database accepts its lines again."""
    root = fleet["docs@h1"]
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        (origin,) = conn.execute(
            "SELECT origin FROM sealguard.logs WHERE project = 'docs'"
        ).fetchone()  # type: ignore[misc]
        status, _, _ = conn.execute(
            "SELECT * FROM sealguard.append(%s, 1, %s::bytea[], NULL)",
            (origin, [b'{"rewritten":true}']),
        ).fetchone()  # type: ignore[misc]
    assert status == 409
    done = sg("fleet", "status", "--url", fleet_url)
    assert done.exit_code == 3
    assert "the history was rewritten" in done.stdout
    # the host's own audit holds its log against the database: REFUSED, an INCIDENT there too
    assert sg("--project", str(root), "observe").exit_code == 3
    done = sg("fleet", "status", "--url", fleet_url)  # its lines accepted since: HALTED now
    assert done.exit_code == 0
    assert _rows(fleet_url)["docs@h1"]["state"] == "HALTED"


def test_overdue_is_worked_out_when_shown(
    fleet: dict[str, Path],
    fleet_url: str,  # noqa: F811
) -> None:
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        (head,) = conn.execute(
            "SELECT h.summary FROM sealguard.heads h JOIN sealguard.logs l USING (origin) "
            "WHERE l.project = 'calc' AND l.host = 'h2'"
        ).fetchone()  # type: ignore[misc]
        (held,) = head["escalations"]
        assert "overdue" not in held  # the head holds the deadline, not a judgement of then
        deadline = datetime.fromisoformat(held["deadline_at"]).replace(tzinfo=UTC)
        before = fleet_status.read(conn, deadline - timedelta(seconds=1))
        after = fleet_status.read(conn, deadline + timedelta(seconds=1))
    row = {(r.project, r.host): r for r in before.rows}[("calc", "h2")]
    assert (row.open_escalations, row.overdue_escalations) == (1, 0)
    row = {(r.project, r.host): r for r in after.rows}[("calc", "h2")]
    assert (row.open_escalations, row.overdue_escalations) == (1, 1)
    assert "overdue 1" in rendering.text(after)


def test_a_host_that_stopped_reporting_is_flagged(
    fleet: dict[str, Path],
    fleet_url: str,  # noqa: F811
) -> None:
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        now = datetime.now(UTC)
        assert fleet_status.read(conn, now).silent == 0
        later = fleet_status.read(conn, now + timedelta(days=2))
        assert later.silent == 3
        sooner = fleet_status.read(conn, now + timedelta(hours=2), silent_after=3600.0)
        assert sooner.silent == 3
    assert "SILENT" in rendering.text(later)
    assert later.exit_code == 0  # a silence is shown, loudly; the database refused nothing


def test_a_schedule_sets_when_a_host_is_silent(
    tmp_path: Path,
    fleet_url: str,  # noqa: F811
) -> None:
    root = governed(tmp_path / "p", fleet_url, "tick", "h1", extra='[schedule]\nevery = "10m"\n')
    assert sg("--project", str(root), "seal").exit_code == 0
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        now = datetime.now(UTC)
        (row,) = fleet_status.read(conn, now + timedelta(minutes=14)).rows
        assert row.silent is None  # 10m, and 5m of grace
        (row,) = fleet_status.read(conn, now + timedelta(minutes=16)).rows
        assert row.silent is not None and row.silent.threshold_seconds == 900


def test_the_url_comes_from_the_project_or_is_a_usage_error(
    tmp_path: Path,
    fleet_url: str,  # noqa: F811
) -> None:
    done = sg("fleet", "status")  # tmp_path: no project here
    assert done.exit_code == 64
    assert done.stderr.count("\n") == 1 and "--url" in done.stderr
    plain = tmp_path / "plain"
    (plain / "governance").mkdir(parents=True)
    (plain / "src").mkdir()
    (plain / "src" / "a.py").write_text("a\n")
    (plain / "governance" / "sealguard.toml").write_text(
        '[seal]\npaths = ["src/**"]\nfiles_only = true\n'
    )
    done = sg("--project", str(plain), "fleet", "report", "-o", str(tmp_path / "f.html"))
    assert done.exit_code == 64 and "[ledger] url" in done.stderr
    assert not (tmp_path / "f.html").exists()
    root = governed(tmp_path / "p", fleet_url, "calc", "h1")
    assert sg("--project", str(root), "seal").exit_code == 0
    done = sg("--project", str(root), "fleet", "status", "--json")
    assert done.exit_code == 0, done.output
    assert [r["project"] for r in json.loads(done.stdout)["logs"]] == ["calc"]


def test_a_wrong_url_or_duration_is_a_usage_error() -> None:
    done = sg("fleet", "status", "--url", "postgresql://me:secret@db.example/fleet")
    assert done.exit_code == 64 and "PGPASSWORD" in done.stderr and "secret" not in done.stderr
    done = sg("fleet", "status", "--url", "postgresql:///x", "--silent-after", "soon")
    assert done.exit_code == 64 and "--silent-after" in done.stderr


def test_an_unreachable_database_is_one_line_and_69(tmp_path: Path) -> None:
    url = f"postgresql:///nothing_here?host={tmp_path}"
    done = sg("fleet", "status", "--url", url)
    assert done.exit_code == 69
    assert done.stderr.count("\n") == 1 and "cannot connect" in done.stderr


def test_the_head_failing_never_fails_the_shipment(
    fleet: dict[str, Path],
    fleet_url: str,  # noqa: F811
) -> None:
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        conn.execute("DROP FUNCTION sealguard.report_head(text, bigint, jsonb)")
    root = fleet["calc@h1"]
    done = sg("--project", str(root), "observe")
    assert done.exit_code == 0, done.output
    assert "the fleet status of log" in done.stderr and "was not updated" in done.stderr
    log = root / "governance" / "runtime" / "GOVERNANCE_LOG.ndjson"
    row = _rows(fleet_url)["calc@h1"]
    assert row["lines"] == len(log.read_bytes().splitlines())  # shipped all the same
    assert row["head_at"] < row["lines"]  # the head stays where it was


MALFORMED_HEADS = [
    {"format": 1, "state": "STABLE", "schedule": {}},  # the attacker's: a KeyError before
    "a head that is a string",
    {"format": 1, "state": "STABLE", "escalations": "many"},
    {"format": 1, "state": "FROZEN", "escalations": [{"deadline_at": 5}]},
    {"format": 1, "state": {"nested": True}},
    {"format": 1, "state": "STABLE", "last_observation": 7},
    {"format": 1, "state": "STABLE", "schedule": {"every_seconds": "soon"}},
    {"format": 1, "state": "STABLE", "schedule": {"every_seconds": -1}},
    {"format": 1, "state": "STABLE", "incident": {"incident_id": 3}},
]
MALFORMED_HISTORIES = [
    {"drifts": [{"event_id": 1}]},
    {"counts": {"INCIDENT": "x"}},
    [],
    {"decisions": [{"decision_id": "D", "decision": "accept", "signers": "all"}]},
]


def _edit_head(url: str, summary: str, value: object) -> str:
    """Set calc on h1's head to the SQL expression `summary` of `value` (as JSON), as its own
    role or a superuser could; its origin."""
    with psycopg.connect(url, autocommit=True) as conn:
        (origin,) = conn.execute(
            "SELECT origin FROM sealguard.logs WHERE project = 'calc' AND host = 'h1'"
        ).fetchone()  # type: ignore[misc]
        conn.execute(
            f"UPDATE sealguard.heads SET summary = {summary} WHERE origin = %s",
            (json.dumps(value), origin),
        )
    return str(origin)


def _page(url: str, folder: Path) -> str:
    """`fleet report` written (exit 0: nothing refused), as text."""
    target = folder / "fleet.html"
    page = sg("fleet", "report", "-o", str(target), "--url", url)
    assert page.exit_code == 0, page.output
    return target.read_text()


@pytest.mark.parametrize("head", MALFORMED_HEADS)
def test_a_malformed_head_is_shown_as_unreadable_and_the_fleet_still_answers(
    fleet: dict[str, Path],
    fleet_url: str,  # noqa: F811
    tmp_path: Path,
    head: object,
) -> None:
    """A head is written by its host's own role (or a superuser): one that does not have the
    head's shape is that row's problem, said on it, never a traceback for the whole fleet."""
    origin = _edit_head(fleet_url, "%s::jsonb", head)
    table = sg("fleet", "status", "--url", fleet_url)
    assert table.exit_code == 0, table.output
    assert "Traceback" not in table.output
    assert f"HEAD calc on h1 (log {origin}): its head cannot be read (" in table.stdout
    assert "FROZEN" in table.stdout  # calc on h2 is still shown as its head says
    rows = _rows(fleet_url)
    assert rows["calc@h1"]["state"] is None and rows["calc@h1"]["head_problem"]
    assert rows["calc@h2"]["state"] == "FROZEN" and rows["calc@h2"]["head_problem"] is None
    assert "its head cannot be read" in _page(fleet_url, tmp_path)


@pytest.mark.parametrize("history", MALFORMED_HISTORIES)
def test_a_malformed_history_is_said_on_the_report_page(
    fleet: dict[str, Path],
    fleet_url: str,  # noqa: F811
    tmp_path: Path,
    history: object,
) -> None:
    """`fleet status` does not read the heads' histories; `fleet report` does, and says on the
    log's section that its history cannot be read instead of failing the page."""
    _edit_head(fleet_url, "jsonb_set(summary, '{history}', %s::jsonb)", history)
    assert sg("fleet", "status", "--url", fleet_url).exit_code == 0
    text = _page(fleet_url, tmp_path)
    assert "its history cannot be read" in text
    assert "PRODUCT_DRIFT" in text  # calc on h2's drift is still on the page


def test_an_auditor_role_reads_the_fleet(
    fleet: dict[str, Path],
    fleet_url: str,  # noqa: F811
) -> None:
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        conn.execute("SET ROLE sealguard_auditor")
        found = fleet_status.read(conn, datetime.now(UTC))
        page = fleet_status.read_report(conn, datetime.now(UTC))
    assert [r.state for r in found.rows] == ["OBSERVING", "FROZEN", "OBSERVING"]
    assert len(page.status.rows) == 3


# -- fleet report ------------------------------------------------------------------------------


def test_the_report_page_holds_each_log_its_refusals_and_drifts(
    fleet: dict[str, Path],
    fleet_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    _reseal(fleet["calc@h1"])
    target = tmp_path / "out" / "fleet.html"
    target.parent.mkdir()
    done = sg("fleet", "report", "-o", str(target), "--url", fleet_url)
    assert done.exit_code == 3, done.output  # written, and it says what the database refused
    assert target.is_file()
    page = target.read_text()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert (
        "<script" not in page
        and "<a " not in page
        and "http" not in page.lower().replace('http-equiv="content-security-policy"', "")
    )
    drift = _last_event(fleet["calc@h2"])
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        logs = conn.execute(
            "SELECT l.origin, l.size, encode(c.root, 'hex') FROM sealguard.logs l "
            "JOIN sealguard.checkpoints c ON c.origin = l.origin AND c.size = l.size"
        ).fetchall()
    assert len(logs) == 3
    for origin, size, root in logs:
        assert origin in page and root in page and f"{size:,}" in page
    assert str(drift["event_id"]) in page
    assert page.count('class="project"') == 2  # calc and docs
    assert "re-sealed or re-keyed" in page and "INCIDENT" in page
    assert "PRODUCT_DRIFT" in page


def test_the_report_is_never_written_where_sealguard_keeps_watch(
    fleet: dict[str, Path],
    fleet_url: str,  # noqa: F811
) -> None:
    root = fleet["calc@h1"]
    target = root / "governance" / "runtime" / "fleet.html"
    done = sg("--project", str(root), "fleet", "report", "-o", str(target))
    assert done.exit_code == 4 and "INV-D-04" in done.stderr
    assert not target.exists()
    done = sg("--project", str(root), "fleet", "report", "-o", str(root / "src" / "f.html"))
    assert done.exit_code == 4 and "sealed path" in done.stderr


def test_an_empty_fleet_says_so(fleet_url: str) -> None:  # noqa: F811
    done = sg("fleet", "status", "--url", fleet_url)
    assert done.exit_code == 0
    assert done.stdout.strip().endswith("no log yet (a host enrols at its first shipment)")


def test_the_columns_stay_aligned_with_wide_and_control_characters() -> None:
    moment = datetime(2026, 1, 1)
    rows = [
        fleet_status.LogStatus(
            origin=f"o{n}", project=name, host="h1", build=None, lines=10, enrolled=moment,
            checkpoint=None, head_at=None, head=None, last_report=moment, escalations=[],
            refused=[], silent=None,
        )
        for n, name in enumerate(("計算", "calc\x1b[2J", "cafe\u0301"))
    ]  # fmt: skip
    text = rendering.text(fleet_status.FleetStatus("postgresql:///x", moment, rows))
    table = text.splitlines()[2:5]
    assert [line.split()[0] for line in table] == ["計算", "calc\\x1B[2J", "cafe\u0301"]
    # the terminal column of the host: two columns for each wide character, none for a combining
    hosts = [line.index("h1") + line.count("計算") * 2 - line.count("\u0301") for line in table]
    assert len(set(hosts)) == 1
