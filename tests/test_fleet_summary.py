"""The head a host reports at each shipment (fleet/summary.py): folded from the log's digest as
`sealguard status` folds it, the same as from every line, and what the database keeps of it."""

import json
from pathlib import Path
from typing import Any

import psycopg

from sealguard import ledger
from sealguard.fleet.summary import KEPT, head, summary
from sealguard.project import Project
from sealguard.seal.settings import config_in_force

from .decision_projects import authority_text, drift, key_args, make_team, run
from .fleet_db import fleet_url  # noqa: F401 (fixture)
from .probe_projects import unsealed_cat_project


def _head_in_database(url: str) -> tuple[int, dict[str, Any]]:
    with psycopg.connect(url, autocommit=True) as conn:
        at_seq, kept = conn.execute("SELECT at_seq, summary FROM sealguard.heads").fetchone()  # type: ignore[misc]
    return at_seq, kept


def test_the_head_is_the_status_of_the_log_with_its_drifts_and_decisions(
    tmp_path: Path,
    fleet_url: str,  # noqa: F811
) -> None:
    team = make_team(tmp_path / "keys")
    extra = f'\n[ledger]\nurl = "{fleet_url}"\nhost = "h1"\n\n[schedule]\nevery = "1h"\n'
    project = unsealed_cat_project(tmp_path, "calc", extra=extra)
    project.authority_file.write_text(authority_text(team))
    assert run(project, "seal").exit_code == 0
    assert run(project, "observe").exit_code == 0
    first = drift(project)
    accepted = run(
        project, "decide", first, "accept", "--reason", "new rates", *key_args(team.alice)
    )
    assert accepted.exit_code == 0, accepted.output
    assert run(project, "verify").exit_code == 0  # the digest moves to here
    assert run(project, "observe").exit_code == 0  # STABLE against v2, read after the digest
    (project.root / "data" / "value.txt").write_text("44\n")
    done = run(project, "observe", "--json")
    assert done.exit_code == 2, done.output
    second = json.loads(done.stdout)["event_id"]

    at_seq, kept = _head_in_database(fleet_url)
    lines = ledger.read_events(project.log_file)
    assert at_seq == len(lines)
    status = json.loads(run(project, "status", "--json").stdout)
    assert (kept["state"], kept["since"], kept["because"], kept["reason"], kept["next"]) == (
        status["state"], status["since"], status["because"], status["reason"], status["next"],
    )  # fmt: skip
    assert kept["state"] == "FROZEN" and kept["because"] == second
    assert kept["baseline_version"] == status["baseline_version"] == 2
    assert kept["last_observation"]["event_id"] == second
    (open_escalation,) = kept["escalations"]
    assert open_escalation["event_id"] == second
    assert open_escalation["deadline_at"] == status["open_escalations"][0]["deadline_at"]
    assert kept["schedule"] == {"every_seconds": 3600.0, "grace_seconds": None}
    history = kept["history"]
    assert history["counts"] == {"PRODUCT_DRIFT": 2}
    assert [d["event_id"] for d in history["drifts"]] == [first, second]
    assert all(d["rules"] and d["rules"][0].startswith("PD-") for d in history["drifts"])
    (decision,) = history["decisions"]
    assert (decision["decision"], decision["answers"]) == ("accept", first)
    assert decision["signers"] == ["Alice Martin (amartin)"]

    # from the digest and the lines after it, as from every line of the log
    index = project.runtime / ".ledger-index" / "journal"
    assert index.is_file()
    place = _ledger(project)
    assert head(place, at_seq) == json.loads(json.dumps(summary(lines, (3600.0, None))))
    assert head(place, at_seq) == kept


def _ledger(project: Project) -> ledger.Ledger:
    return project.ledger(config_in_force(project))


def test_a_head_of_fewer_lines_leaves_out_the_later_ones(
    tmp_path: Path,
    fleet_url: str,  # noqa: F811
) -> None:
    extra = f'\n[ledger]\nurl = "{fleet_url}"\nhost = "h1"\n'
    project = unsealed_cat_project(tmp_path, "calc", extra=extra)
    assert run(project, "seal").exit_code == 0
    before = len(ledger.read_events(project.log_file))
    drift(project)
    earlier = head(_ledger(project), before)
    assert earlier["state"] == "OBSERVING" and earlier["escalations"] == []
    assert earlier["last_observation"] is None and earlier["history"]["counts"] == {}


def _observation(n: int, klass: str) -> dict[str, Any]:
    return {
        "type": "runtime_event", "seq": n, "ts": f"2026-01-01T00:00:{n:02d}Z",
        "event_id": f"RTE_20260101_0000{n:02d}_0000000{n % 10}", "classification": klass,
        "observed_at": f"2026-01-01T00:00:{n:02d}Z", "state_before": "OBSERVING",
        "state_after": "OBSERVING",
        "why": [{"rule": "TD-03", "class": klass, "matched": True, "detail": "runner gone"}],
    }  # fmt: skip


def test_a_head_keeps_the_newest_drifts_and_counts_them_all() -> None:
    sealed = {
        "type": "baseline_sealed",
        "seq": 0,
        "ts": "2026-01-01T00:00:00Z",
        "baseline_sha256": "0" * 64,
    }
    events = [sealed, *(_observation(n, "TOOLING_DRIFT") for n in range(1, KEPT + 6))]
    found = summary(events)
    assert found["state"] == "OBSERVING"  # a tooling drift does not stop observation
    assert found["history"]["counts"] == {"TOOLING_DRIFT": KEPT + 5}
    drifts = found["history"]["drifts"]
    assert len(drifts) == KEPT
    assert drifts[-1]["event_id"] == events[-1]["event_id"]
    assert drifts[0]["event_id"] == events[6]["event_id"]
    assert drifts[0]["rules"] == ["TD-03 runner gone"]
    assert found["schedule"] is None
