"""`sealguard serve`: the JSON API, /metrics and the read-only rules, over a real sealed project
whose observations run through the real CLI, served by uvicorn on loopback."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sealguard import ledger
from sealguard.project import Project
from sealguard.schedule import due
from sealguard.serve.app import ROUTES, build, route_paths
from sealguard.serve.auth import Bind
from sealguard.serve.history import History
from sealguard.serve.metrics import families
from sealguard.serve.reading import read

from .dashboards import threaded, tree_state
from .decision_projects import Team, drift, governed, key_args, run
from .probe_projects import cat_project


def observe(project: Project, code: int = 0) -> str:
    done = run(project, "observe", "--json")
    assert done.exit_code == code, done.output
    return str(json.loads(done.stdout)["event_id"])


@pytest.fixture
def frozen(tmp_path: Path, team: Team) -> tuple[Project, str, str]:
    """A governed project: one STABLE observation, then a PRODUCT_DRIFT (FROZEN, escalated)."""
    project = governed(tmp_path, team)
    stable = observe(project)
    return project, stable, drift(project)


def metrics_of(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_status_is_what_status_json_says(frozen: tuple[Project, str, str]) -> None:
    project, _stable, drifted = frozen
    cli = json.loads(run(project, "status", "--json").stdout)
    with threaded(project) as url:
        found = httpx.get(url + "api/status").json()
    assert found["state"] == "FROZEN" and found["because"] == drifted
    for key in ("state", "since", "because", "reason", "next", "baseline_version", "recent"):
        assert found[key] == cli[key], key
    assert [e["event_id"] for e in found["open_escalations"]] == [drifted]
    assert found["observations"] == 2 and found["last_observation_at"]
    assert found["log"]["lines"] == len(ledger.read_events(project.log_file))


def test_observations_newest_first_with_period_and_limit(frozen: tuple[Project, str, str]) -> None:
    project, stable, drifted = frozen
    with threaded(project) as url:
        every = httpx.get(url + "api/observations").json()
        one = httpx.get(url + "api/observations", params={"limit": "1"}).json()
        later = httpx.get(url + "api/observations", params={"since": "2999-01-01T00:00:00Z"}).json()
        earlier = httpx.get(url + "api/observations", params={"until": "2999-01-01"}).json()
        bad_since = httpx.get(url + "api/observations", params={"since": "yesterday"})
        bad_limit = httpx.get(url + "api/observations", params={"limit": "0"})
    assert [o["event_id"] for o in every["observations"]] == [drifted, stable]
    assert [o["classification"] for o in every["observations"]] == ["PRODUCT_DRIFT", "STABLE"]
    assert one == {"total": 2, "observations": every["observations"][:1]}
    assert later == {"total": 0, "observations": []}
    assert earlier["total"] == 2
    assert bad_since.status_code == 400
    assert bad_since.json() == {"error": "since: not an ISO 8601 date-time: 'yesterday'"}
    assert bad_limit.status_code == 400 and "limit: a whole number from 1 to 1000" in bad_limit.text


def test_event_is_the_log_record_with_its_decisions(
    frozen: tuple[Project, str, str], team: Team
) -> None:
    project, _stable, drifted = frozen
    decided = run(
        project, "decide", drifted, "accept", "--reason", "new value", *key_args(team.alice)
    )
    assert decided.exit_code == 0, decided.output
    record = next(e for e in ledger.read_events(project.log_file) if e.get("event_id") == drifted)
    with threaded(project) as url:
        found = httpx.get(url + f"api/events/{drifted}").json()
        missing = httpx.get(url + "api/events/RTE_20000101_000000_00000000")
    assert found["event"] == record
    assert [d["decision"] for d in found["decisions"]] == ["accept"]
    assert found["decisions"][0]["signers"][0]["name"] == "Alice Martin"
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "no observation RTE_20000101_000000_00000000 in the governance log"
    }


def test_escalations_all_or_open(frozen: tuple[Project, str, str], team: Team) -> None:
    project, _stable, drifted = frozen
    with threaded(project) as url:
        before = httpx.get(url + "api/escalations", params={"state": "open"}).json()
        assert (
            run(
                project, "decide", drifted, "accept", "--reason", "ok", *key_args(team.alice)
            ).exit_code
            == 0
        )
        after_open = httpx.get(url + "api/escalations", params={"state": "open"}).json()
        after_all = httpx.get(url + "api/escalations").json()
        bad = httpx.get(url + "api/escalations", params={"state": "closed"})
    assert [(e["event_id"], e["open"]) for e in before["escalations"]] == [(drifted, True)]
    assert after_open == {"escalations": []}
    assert [(e["event_id"], e["open"]) for e in after_all["escalations"]] == [(drifted, False)]
    assert "Alice Martin" in after_all["escalations"][0]["acknowledged_by"]
    assert bad.status_code == 400


def test_metrics_read_the_log_at_each_scrape(frozen: tuple[Project, str, str], team: Team) -> None:
    project, _stable, drifted = frozen
    with threaded(project) as url:
        first = metrics_of(httpx.get(url + "metrics").text)
        again = metrics_of(httpx.get(url + "metrics").text)
        assert (
            run(
                project, "decide", drifted, "accept", "--reason", "ok", *key_args(team.alice)
            ).exit_code
            == 0
        )
        observe(project)
        after = metrics_of(httpx.get(url + "metrics").text)
    total = "sealguard_observations_total"
    assert first[(total, (("class", "STABLE"),))] == 1
    assert first[(total, (("class", "PRODUCT_DRIFT"),))] == 1
    assert first[(total, (("class", "INCIDENT"),))] == 0
    assert first[("sealguard_state", (("state", "FROZEN"),))] == 1
    assert first[("sealguard_state", (("state", "OBSERVING"),))] == 0
    assert first[("sealguard_escalations_open", ())] == 1
    assert first[("sealguard_escalations_overdue", ())] == 0
    assert first[("sealguard_seconds_since_last_observation", ())] >= 0
    assert ("sealguard_seconds_since_last_full_audit", ()) in first
    # nothing accumulates in the process: the same log gives the same counts
    assert again[(total, (("class", "STABLE"),))] == 1
    assert after[(total, (("class", "STABLE"),))] == 2
    assert after[("sealguard_state", (("state", "OBSERVING"),))] == 1
    assert after[("sealguard_escalations_open", ())] == 0


def test_metrics_before_any_observation(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    with threaded(project) as url:
        found = metrics_of(httpx.get(url + "metrics").text)
    assert found[("sealguard_observations_total", (("class", "STABLE"),))] == 0
    assert found[("sealguard_state", (("state", "OBSERVING"),))] == 1
    assert ("sealguard_seconds_since_last_observation", ()) not in found


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_only_get_and_head(frozen: tuple[Project, str, str], method: str) -> None:
    project, _, drifted = frozen
    with threaded(project) as url:
        for path in ("", "api/status", f"api/events/{drifted}", "metrics", "no/such/path"):
            answer = httpx.request(method, url + path, content=b"{}")
            assert answer.status_code == 405, (method, path)
            assert answer.headers["allow"] == "GET, HEAD"
        assert httpx.head(url + "api/status").status_code == 200


def test_serving_writes_nothing_in_the_project(frozen: tuple[Project, str, str]) -> None:
    """No cache, lock or log line: the observer's files stay as they were, byte for byte."""
    project, _, drifted = frozen
    before = tree_state(project.root)
    with threaded(project) as url:
        for path in ("", "api/status", "api/observations", "api/escalations", "metrics",
                     f"api/events/{drifted}", "api/log", "report.html"):  # fmt: skip
            assert httpx.get(url + path).status_code == 200, path
    assert tree_state(project.root) == before


def test_an_observation_runs_while_the_server_reads(
    frozen: tuple[Project, str, str], team: Team
) -> None:
    project, _, drifted = frozen
    assert (
        run(project, "decide", drifted, "accept", "--reason", "ok", *key_args(team.alice)).exit_code
        == 0
    )
    with threaded(project) as url, httpx.Client() as client:
        version = client.get(url + "api/log").json()["version"]
        observe(project)
        assert client.get(url + "api/log").json()["version"] != version
        assert client.get(url + "api/status").json()["observations"] == 3


def test_every_route_is_in_the_openapi_document_and_back(frozen: tuple[Project, str, str]) -> None:
    project, _, _ = frozen
    shipped = json.loads((resources.files("sealguard.serve") / "openapi.json").read_text())
    assert shipped["openapi"].startswith("3.1")
    app = build(project, Bind("127.0.0.1", 0), None)
    assert route_paths(app) == set(shipped["paths"]) and len(ROUTES) == len(shipped["paths"])
    assert all(set(item) == {"get"} for item in shipped["paths"].values())
    with threaded(project) as url:
        assert httpx.get(url + "openapi.json").json() == shipped


def test_loopback_checks_the_host_header(frozen: tuple[Project, str, str]) -> None:
    """A page elsewhere that rebinds its own name to 127.0.0.1 cannot read the log."""
    project, _, _ = frozen
    with threaded(project) as url:
        rebound = httpx.get(url + "api/status", headers={"Host": "attacker.example:8470"})
        own = httpx.get(url + "api/status", headers={"Host": "localhost:8470"})
        page = httpx.get(url)
    assert rebound.status_code == 400 and own.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-type"].startswith("text/html")


def test_the_report_page_is_the_reports(frozen: tuple[Project, str, str]) -> None:
    """/report.html is report/html.py's page of the whole log: the same trail (its content hash
    is the one `sealguard report --json` computes), with the verification the last audit left."""
    project, _, drifted = frozen
    with threaded(project) as url:
        page = httpx.get(url + "report.html")
        again = httpx.get(url + "report.html")
        with project.log_file.open("ab") as stream:
            stream.write(b"\n")  # not sealguard's write: the last audit no longer vouches for it
        unverified = httpx.get(url + "report.html").text
    html = page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'; style-src")
    assert '<span class="mode" id="mode">FROZEN</span>' in html
    assert f'id="{drifted}" data-class="PRODUCT_DRIFT"' in html
    assert "INTACT as the last audit found it" in html and "<script" not in html
    assert again.text == html  # made once per log version
    assert "NOT VERIFIED: no audit recorded the log as it is now" in unverified
    sha = html.split('id="content-sha256">', 1)[1].split("<", 1)[0]
    log = project.log_file.read_bytes()
    project.log_file.write_bytes(log[:-1])  # as sealguard left it, for `report`
    reported = json.loads(run(project, "report", "--json").stdout)
    assert reported["content_sha256"] == sha


def test_an_audit_is_a_new_version_of_what_the_page_shows(frozen: tuple[Project, str, str]) -> None:
    """`verify --full` writes no log line but moves the verified state: the page says so."""
    project, _, _ = frozen
    with threaded(project) as url:
        version = httpx.get(url + "api/log").json()["version"]
        before = httpx.get(url + "report.html").text
        log = project.log_file.read_bytes()
        verified = run(project, "verify", "--full")
        assert verified.exit_code == 0, verified.output
        assert project.log_file.read_bytes() == log
        after_version = httpx.get(url + "api/log").json()["version"]
        after = httpx.get(url + "report.html").text
    assert after_version != version and after != before
    full_at = after.split("last full audit: ", 1)[1].split(";", 1)[0]
    assert full_at not in before


def scheduled(tmp_path: Path, every: str, grace: str) -> Project:
    project = cat_project(tmp_path, extra=f'\n[schedule]\nevery = "{every}"\ngrace = "{grace}"\n')
    observe(project)
    return project


def test_the_schedule_on_time(tmp_path: Path) -> None:
    project = scheduled(tmp_path, "15m", "5m")
    cli = json.loads(run(project, "status", "--json").stdout)["schedule"]
    with threaded(project) as url:
        found = httpx.get(url + "api/status").json()["schedule"]
        metrics = metrics_of(httpx.get(url + "metrics").text)
    assert {k: found[k] for k in ("every_seconds", "next_due", "late", "overdue")} == {
        k: cli[k] for k in ("every_seconds", "next_due", "late", "overdue")
    }
    assert found["every_seconds"] == 900 and found["late"] is False
    assert metrics[("sealguard_schedule_every_seconds", ())] == 900
    assert 0 < metrics[("sealguard_seconds_until_next_observation", ())] <= 900
    assert metrics[("sealguard_observation_late_seconds", ())] == 0
    assert metrics[("sealguard_observation_overdue", ())] == 0
    due = datetime.fromisoformat(found["next_due"]).timestamp()
    assert metrics[("sealguard_next_observation_due_timestamp_seconds", ())] == due


def test_the_schedule_late_and_overdue(tmp_path: Path) -> None:
    """The metrics of the same log read an hour later (metrics.families is pure over a
    reading; `[schedule] every` is at least a minute, too long to wait for in a test)."""
    project = scheduled(tmp_path, "15m", "5m")
    now = read(project, History(project.log_file))
    later = now.now + timedelta(hours=1)
    assert now.schedule is not None and now.schedule.last is not None
    hour = replace(now, now=later, schedule=due(900, now.schedule.last, later, 300))
    found = {m.name: m.samples[0].value for m in families(hour) if m.samples}
    assert found["sealguard_observation_overdue"] == 1
    assert found["sealguard_observation_late_seconds"] == pytest.approx(
        (later - now.schedule.last).total_seconds() - 900
    )
    assert found["sealguard_seconds_until_next_observation"] < -2000
    assert found["sealguard_seconds_since_last_observation"] > 3600


def test_no_schedule_no_schedule_metrics(frozen: tuple[Project, str, str]) -> None:
    project, _, _ = frozen
    with threaded(project) as url:
        assert httpx.get(url + "api/status").json()["schedule"] is None
        metrics = metrics_of(httpx.get(url + "metrics").text)
    assert not [name for name, _ in metrics if "schedule" in name or "next_observation" in name]


def test_the_page_shows_signed_reviews(frozen: tuple[Project, str, str], team: Team) -> None:
    """A signed review of the audit trail is on the page, and still matches its period."""
    project, _, _ = frozen
    until = datetime.now(UTC).replace(microsecond=0)
    reviewed = run(project, "review", "--since", (until - timedelta(days=1)).isoformat(),
                   "--until", until.isoformat(), "--reason", "monthly review",
                   *key_args(team.olga))  # fmt: skip
    assert reviewed.exit_code == 0, reviewed.output
    signed = next(e for e in ledger.read_events(project.log_file) if e["type"] == "audit_review")
    with threaded(project) as url:
        page = httpx.get(url + "report.html").text
    reviews = page.split('<section id="reviews">', 1)[1].split("</section>", 1)[0]
    assert signed["report_sha256"] in reviews and "differs" not in reviews
    assert "Olga Petit" in reviews and "monthly review" in reviews
