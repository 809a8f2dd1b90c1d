"""The audit trail's pure model (report/trail.py), folded from a history made by real commands."""

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from sealguard import ledger
from sealguard.report.trail import (
    Observation,
    Period,
    Trail,
    canonical_bytes,
    content_sha256,
    decisions_on,
    escalations_of,
    fold,
    observation_row,
    spans,
)

from .report_history import SCRIPT, History, history_fixture, run  # noqa: F401 (fixture)

Events = list[dict[str, Any]]


def _events(history: History) -> Events:
    return ledger.read_events(history.project.log_file)


def _trail(events: Events, period: Period | None = None) -> Trail:
    rows = [observation_row(e) for e in events if e.get("type") == "runtime_event"]
    return fold(period or Period(), "origin", rows, events)


def test_every_class_is_in_the_timeline_and_each_drift_has_its_cause(history: History) -> None:
    trail = _trail(_events(history))
    classes = [o.classification for o in trail.observations]
    assert classes == ["STABLE", "TOOLING_DRIFT", "STABLE", "PRODUCT_DRIFT", "STABLE", "INCIDENT"]
    notable = {n.event_id: n for n in trail.notable}
    assert set(notable) == {history.ids[k] for k in ("tooling", "drift", "incident")}
    tooling = notable[history.ids["tooling"]]
    assert [r.rule for r in tooling.rules] == ["TD-03"]
    assert tooling.path[:2] == ["INC-01", "INC-02"] and "TD-03 [fuel-table]" in tooling.path
    drift = notable[history.ids["drift"]]
    assert [r.rule for r in drift.rules] == ["PD-07"]
    assert (drift.state_before, drift.state_after) == ("OBSERVING", "FROZEN")
    assert drift.probes[0].output_sha256 != drift.probes[0].baseline_output_sha256
    assert drift.evidence is not None and "fuel-table/diff.txt" in drift.evidence.files
    assert drift.export and drift.export.endswith(".tar.gz")
    incident = notable[history.ids["incident"]]
    assert [(v.invariant, v.change, v.path) for v in incident.violations] == [
        ("INV-D-02", "modified", "src/fuelcalc/fuel.py")
    ]
    assert trail.incidents[0].event_id == history.ids["incident"]


def test_a_decision_keeps_every_signer_with_name_time_and_meaning(history: History) -> None:
    trail = _trail(_events(history))
    (decision,) = decisions_on(trail, history.ids["drift"])
    assert decision.decision == "accept" and decision.meaning == "approval"
    assert [(s.name, s.id) for s in decision.signers] == [
        ("Alice Martin", "amartin"),
        ("Bob Durand", "bdurand"),
    ]
    assert all(s.key.startswith("SHA256:") for s in decision.signers)
    assert decision.decided_at and decision.reason == f"reserve approved {SCRIPT}"
    assert decision.version == 2
    assert [(v.version, v.decision) for v in trail.versions] == [
        (1, None),
        (2, decision.decision_id),
    ]


def test_an_escalation_keeps_its_attempts_and_acknowledgement(history: History) -> None:
    trail = _trail(_events(history))
    (drift,) = escalations_of(trail, history.ids["drift"])
    assert drift.channels == ["slack", "email"] and drift.deadline == "15m"
    assert [(a.channel, a.attempt, a.outcome) for a in drift.attempts] == [
        ("slack", 1, "failed"),
        ("email", 1, "delivered"),
        ("slack", 2, "delivered"),
    ]
    assert drift.attempts[0].detail == "HTTP 500: forced"
    assert drift.acknowledged is not None and "Alice Martin" in drift.acknowledged.by
    (tooling,) = escalations_of(trail, history.ids["tooling"])
    assert tooling.acknowledged is not None
    assert (tooling.acknowledged.by, tooling.acknowledged.note) == ("Olga Petit", SCRIPT)
    (incident,) = escalations_of(trail, history.ids["incident"])
    assert incident.deadline == "0s" and incident.acknowledged is None


def _row(seq: int, klass: str, minute: int) -> Observation:
    return Observation(
        seq=seq,
        event_id=f"RTE_{seq}",
        observed_at=f"2026-11-01T00:{minute:02d}:00Z",
        classification=klass,
    )


def test_stable_runs_collapse_into_spans_and_other_classes_stand_alone() -> None:
    rows = [
        _row(1, "STABLE", 0),
        _row(2, "STABLE", 5),
        _row(3, "STABLE", 10),
        _row(4, "TOOLING_DRIFT", 15),
        _row(5, "TOOLING_DRIFT", 20),
        _row(6, "STABLE", 25),
    ]
    found = [(s.classification, s.count, s.first_seq, s.last_seq, s.start, s.end)
             for s in spans(rows)]  # fmt: skip
    assert found == [
        ("STABLE", 3, 1, 3, "2026-11-01T00:00:00Z", "2026-11-01T00:10:00Z"),
        ("TOOLING_DRIFT", 1, 4, 4, "2026-11-01T00:15:00Z", "2026-11-01T00:15:00Z"),
        ("TOOLING_DRIFT", 1, 5, 5, "2026-11-01T00:20:00Z", "2026-11-01T00:20:00Z"),
        ("STABLE", 1, 6, 6, "2026-11-01T00:25:00Z", "2026-11-01T00:25:00Z"),
    ]
    assert spans([]) == []


def test_the_period_holds_what_happened_from_since_up_to_until(history: History) -> None:
    events = _events(history)
    drift = next(e for e in events if e.get("event_id") == history.ids["drift"]
                 and e["type"] == "runtime_event")  # fmt: skip
    since = drift["observed_at"]
    after = _trail(events, Period(since=since))
    assert after.observations[0].event_id == history.ids["drift"]
    assert {n.event_id for n in after.notable} == {history.ids["drift"], history.ids["incident"]}
    assert not escalations_of(after, history.ids["tooling"])  # created before the period
    assert [v.version for v in after.versions] == [2]
    before = _trail(events, Period(until=since))
    assert {n.event_id for n in before.notable} == {history.ids["tooling"]}
    assert before.observations[-1].classification == "STABLE"
    assert len(before.observations) + len(after.observations) == 6
    assert not before.decisions and len(after.decisions) == 1


def test_the_content_hash_is_stable_and_follows_every_event_of_the_period(
    history: History,
) -> None:
    events = _events(history)
    first = content_sha256(_trail(events))
    assert content_sha256(_trail(_events(history))) == first
    changed = [dict(e) for e in events]
    decision = next(e for e in changed if e["type"] == "decision")
    decision["reason"] = "reserve approved"
    assert content_sha256(_trail(changed)) != first
    drift = next(e for e in events if e.get("event_id") == history.ids["drift"])
    period = Period(until=drift["observed_at"])
    assert content_sha256(_trail(changed, period)) == content_sha256(_trail(events, period))


def test_the_hash_is_of_rfc8785_json_and_the_trail_round_trips(history: History) -> None:
    import hashlib

    trail = _trail(_events(history))
    data = canonical_bytes(trail)
    parsed = json.loads(data)
    assert data == json.dumps(parsed, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False).encode()  # fmt: skip
    assert content_sha256(trail) == hashlib.sha256(data).hexdigest()
    assert msgspec.convert(parsed, Trail) == trail


def test_a_tampered_field_of_the_wrong_type_is_one_line_naming_its_seq(history: History) -> None:
    from sealguard.errors import DataError

    events = [dict(e) for e in _events(history)]
    decision = next(e for e in events if e["type"] == "decision")
    decision["signers"] = "everyone"
    with pytest.raises(DataError, match=rf"^log line seq {decision['seq']} \(decision\): "):
        _trail(events)


def test_the_same_period_gives_the_same_hash_after_the_log_grew(
    history: History, tmp_path: Path
) -> None:
    project = history.copy(tmp_path / "p")
    drift = next(e for e in ledger.read_events(project.log_file)
                 if e.get("event_id") == history.ids["drift"])  # fmt: skip
    period = ["--until", drift["observed_at"]]
    open_ended = ["--until", "2099-01-01T00:00:00Z"]
    before = json.loads(run(project, "report", "--json", *period).stdout)
    whole = json.loads(run(project, "report", "--json", *open_ended).stdout)
    esc = next(e["escalation_id"] for e in ledger.read_events(project.log_file)
               if e["type"] == "escalation_created" and e["event_id"] == history.ids["incident"])  # fmt: skip
    assert run(project, "ack", esc, "--by", "Olga Petit").exit_code == 0
    again = json.loads(run(project, "report", "--json", *period).stdout)
    assert again["content_sha256"] == before["content_sha256"]
    grown = json.loads(run(project, "report", "--json", *open_ended).stdout)
    assert grown["content_sha256"] != whole["content_sha256"]
    (acked,) = [e for e in grown["trail"]["escalations"] if e["escalation_id"] == esc]
    assert acked["acknowledged"]["by"] == "Olga Petit"


def test_the_fast_encoding_gives_the_bytes_rfc8785_gives(history: History) -> None:
    import rfc8785

    from sealguard.report.trail import Evidence, _plain

    trail = _trail(_events(history))
    assert _plain(trail, msgspec.to_builtins(trail))
    assert canonical_bytes(trail) == rfc8785.dumps(msgspec.to_builtins(trail))
    odd = msgspec.structs.replace(
        trail.notable[0],
        evidence=Evidence(snapshot_id="SNP_x", path="p", files={"\U0001f600": "a", "\uffff": "b"}),
    )
    huge = msgspec.structs.replace(trail.observations[0], duration_ms=2**60)
    astral = Trail(notable=[odd], observations=trail.observations)
    data = msgspec.to_builtins(astral)
    assert not _plain(astral, data)
    assert canonical_bytes(astral) == rfc8785.dumps(data)  # keys in UTF-16 order: 😀 first
    assert canonical_bytes(astral) != msgspec.json.encode(data, order="sorted")
    large = Trail(observations=[huge])
    assert not _plain(large, msgspec.to_builtins(large))
    assert b'"duration_ms":"1152921504606846976"' in canonical_bytes(large)  # as the log writes it


def test_the_reason_puts_the_deciding_rules_first_and_the_path_names_each_probe() -> None:
    """A PRODUCT_DRIFT on probe b while probe a stayed as sealed: the page's reason starts with
    b's rule, and the rule path says which probe each rule was tried on."""
    from sealguard.report.html import render_html
    from sealguard.report.page import Banner, Report, Verification
    from sealguard.report.trail import Period, fold

    why = [
        {"rule": "ST-01", "class": "STABLE", "matched": True, "detail": "as-sealed", "probe": "a"},
        {"rule": "PD-01", "class": "PRODUCT_DRIFT", "matched": False, "detail": "", "probe": "b"},
        {
            "rule": "PD-07",
            "class": "PRODUCT_DRIFT",
            "matched": True,
            "detail": "changed",
            "probe": "b",
        },
    ]
    event = {
        "type": "runtime_event", "seq": 3, "ts": "2026-11-27T10:00:00Z", "event_id": "RTE_1",
        "observed_at": "2026-11-27T10:00:00Z", "classification": "PRODUCT_DRIFT", "why": why,
        "state_before": "OBSERVING", "state_after": "FROZEN",
    }  # fmt: skip
    trail = fold(Period(), "origin", [], [event])
    [notable] = trail.notable
    assert notable.path == ["ST-01 [a]", "PD-01 [b]", "PD-07 [b]"]
    page = render_html(
        Report(
            generated_at="2026-11-27T10:00:01Z", project="p", content_sha256="0" * 64, trail=trail,
            banner=Banner(mode="FROZEN", since=None, because=None, reason="", baseline_version=1,
                          baseline_sha256=None, next_step=""),
            verification=Verification(intact=True, summary="INTACT", problems=[], lines=3,
                                      full=True, checkpoint=None, witness="none"),
        )
    )  # fmt: skip
    reason = page.split('class="reason">')[1].split("</dd>")[0]
    assert reason.index("PD-07") < reason.index("ST-01")
