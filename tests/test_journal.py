"""The digest of notable events folds to what every event folds to, and is used only when the
log key signed it at the verified state's position."""

import json
import random
from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.escalation import outbox
from sealguard.ledger import Ledger, append, read_events
from sealguard.ledger import journal as journal_module
from sealguard.ledger.incremental import Policy, audit_log
from sealguard.ledger.journal import notable_events
from sealguard.ledger.keys import create_key
from sealguard.observe.observation import observe
from sealguard.runtime import expected_files
from sealguard.seal.sealing import seal
from sealguard.state import baseline_record, fold

from .ledger_helpers import make_log, probe_project

POLICY = Policy(every=1000, max_age=86400)


def _same_folds(ledger: Ledger) -> None:
    every, notable = read_events(ledger.log), notable_events(ledger)
    assert fold(notable) == fold(every)
    assert outbox.fold(notable) == outbox.fold(every)
    assert baseline_record(notable) == baseline_record(every)
    assert expected_files(notable).pending == expected_files(every).pending
    pending = expected_files(every).pending  # what an announced hash is read for
    announced = [expected_files(e).announced for e in (notable, every)]
    assert [{p: a.get(p) for p in pending} for a in announced[:1]] == [
        {p: announced[1].get(p) for p in pending}
    ]


def test_a_long_observed_history_folds_the_same_from_the_digest(tmp_path: Path) -> None:
    project = probe_project(tmp_path, None)
    config = load_config(project.config_file)
    seal(project, config, jobs=1)
    ledger = project.ledger(config)
    value = project.root / "data" / "value.txt"
    for round_ in range(12):
        if round_ == 7:
            value.write_text("2\n")  # a drift: FROZEN, an escalation and an export
        try:
            observe(project, config, jobs=1)
        except Exception as exc:
            assert "FROZEN" in str(exc)
        if round_ % 3 == 0:
            append(ledger, "runtime_writing", {"paths": [f"outbox/x{round_}.json"]})
        _same_folds(ledger)
    digest = journal_module._load(
        ledger,
        _public(ledger),
        journal_module.usable_state(ledger, _public(ledger)),  # type: ignore[arg-type]
    )
    assert digest is not None  # the observations' audits kept it at the verified state
    assert len(digest.notable) < len(read_events(ledger.log)) // 2  # routine lines left out
    assert fold(notable_events(ledger)).mode == "FROZEN"


def _public(ledger: Ledger) -> bytes:
    public = journal_module.log_public_key(ledger)
    assert public is not None
    return public


def test_random_appends_fold_the_same(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 1)
    rng = random.Random(7)
    kinds = [
        ("runtime_event", {"classification": "STABLE", "event_id": "RTE_a"}),
        ("runtime_event", {"classification": "STABLE", "snapshot": {"path": "s", "files": {}}}),
        ("runtime_event", {"classification": "PRODUCT_DRIFT", "event_id": "RTE_b", "why": []}),
        ("runtime_writing", {"paths": ["events/a.json"], "sha256": {"events/a.json": "00"}}),
        ("runtime_file", {"path": "events/a.json", "sha256": "00", "size": 1}),
        ("runtime_leftovers", {"files": [], "never_written": []}),
        ("decision", {"decision": "investigate", "decision_id": "DEC_1", "reason": "r"}),
    ]
    for step in range(60):
        kind, fields = kinds[rng.randrange(len(kinds))]
        append(ledger, kind, {**fields, "step": step})
        if rng.random() < 0.3:
            assert audit_log(ledger, 1, POLICY).report.intact
        _same_folds(ledger)


def test_a_digest_not_signed_by_the_log_key_is_not_used(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 3)
    append(ledger, "incident_opened", {"incident_id": "INC_1", "event_id": "RTE_x"})
    assert audit_log(ledger, 1, POLICY).report.intact
    digest_file = ledger.index / "journal"
    body = json.loads(digest_file.read_bytes().split(b"\n")[0])
    body["notable"] = [e for e in body["notable"] if e.get("type") != "incident_opened"]
    from sealguard.ledger import signed

    forged = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    signed.write(digest_file, forged, create_key(tmp_path / "other.pem"), journal_module.DOMAIN)
    assert any(e["type"] == "incident_opened" for e in notable_events(ledger))  # read from log


def test_a_digest_at_another_position_is_not_used(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 3)
    assert audit_log(ledger, 1, POLICY).report.intact
    saved = (ledger.index / "journal").read_bytes()
    append(ledger, "incident_opened", {"incident_id": "INC_1", "event_id": "RTE_x"})
    assert audit_log(ledger, 1, POLICY).report.intact
    (ledger.index / "journal").write_bytes(saved)  # an older digest put back: it misses INC_1
    assert any(e["type"] == "incident_opened" for e in notable_events(ledger))


def test_within_one_command_a_log_state_is_read_once_and_appends_are_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_log(tmp_path / "rt", 3)
    assert audit_log(ledger, 1, POLICY).report.intact
    reads: list[int] = []
    real = journal_module._notable_events
    monkeypatch.setattr(journal_module, "_notable_events", lambda led: reads.append(1) or real(led))
    with journal_module.one_command():
        first = notable_events(ledger)
        assert notable_events(ledger) == first and len(reads) == 1
        append(ledger, "decision", {"decision": "investigate", "decision_id": "DEC_2"})
        assert notable_events(ledger)[-1]["decision_id"] == "DEC_2" and len(reads) == 2
    notable_events(ledger)
    notable_events(ledger)
    assert len(reads) == 4  # outside a command, every call reads
