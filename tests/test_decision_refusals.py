"""Every refused decision exits 4, says why in one line, and is journaled as an attempt."""

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealguard import ledger
from sealguard.decide.authority import authorised_signer, parse_authority
from sealguard.decide.keys import load_private_key
from sealguard.decide.payload import Payload, encode
from sealguard.decide.sshsig import SignatureRefused, sign

from .decision_projects import (
    Team,
    authority_text,
    drift,
    events_of,
    governed,
    incident,
    key_args,
    run,
    state_of,
)
from .ssh_tools import keygen_sign


def _refused(project, done, code: str) -> str:  # type: ignore[no-untyped-def]
    assert done.exit_code == 4, done.output
    assert f"decision refused ({code})" in done.output, done.output
    assert len(done.output.strip().splitlines()) == 1, done.output
    attempts = events_of(project, "decision_refused")
    assert attempts and attempts[-1]["reason_code"] == code
    return str(done.output)


def test_an_unsigned_decision_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    _refused(project, run(project, "decide", event_id, "accept", "--reason", "x"), "unsigned")
    assert state_of(project).mode == "FROZEN"


def test_a_key_nobody_holds_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    done = run(project, "decide", event_id, "accept", "--reason", "x", *key_args(team.mallory))
    _refused(project, done, "unknown-key")
    assert state_of(project).mode == "FROZEN"


def test_an_operator_cannot_sign_what_needs_an_architect(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    done = run(project, "decide", event_id, "accept", "--reason", "x", *key_args(team.olga))
    assert "Olga Petit" in _refused(project, done, "role")


def test_the_two_person_rule_needs_two_distinct_architects(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team, rules="accept = 2")
    event_id = drift(project)
    one = run(project, "decide", event_id, "accept", "--reason", "x", *key_args(team.alice))
    _refused(project, one, "too-few")
    twice = run(project, "decide", event_id, "accept", "--reason", "x",
                *key_args(team.alice, team.alice))  # fmt: skip
    _refused(project, twice, "too-few")
    both = run(project, "decide", event_id, "accept", "--reason", "x",
               *key_args(team.alice, team.bob))  # fmt: skip
    assert both.exit_code == 0, both.output
    assert "Alice Martin (amartin), Bob Durand (bdurand)" in both.output


def test_a_payload_altered_after_signing_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    made = run(project, "decide", event_id, "accept", "--reason", "signed text", "--payload-only")
    payload = tmp_path / "payload.json"
    payload.write_bytes(made.stdout_bytes)
    signature = tmp_path / "sig"
    signature.write_text(keygen_sign(team.alice, payload))
    altered = json.loads(payload.read_bytes())
    altered["reason"] = "another text"
    payload.write_bytes(encode(msgspec.convert(altered, Payload)))
    done = run(
        project, "decide", event_id, "--payload", str(payload), "--signature", str(signature)
    )
    _refused(project, done, "mismatch")


def test_a_signature_replayed_for_another_event_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    first = drift(project)
    assert (
        run(project, "decide", first, "accept", "--reason", "x", *key_args(team.alice)).exit_code
        == 0
    )
    used = events_of(project, "decision")[-1]["signers"][0]["signature"]  # type: ignore[index]
    (project.root / "data" / "value.txt").write_text("44\n")
    second = json.loads(run(project, "observe", "--json").stdout)["event_id"]
    replay = tmp_path / "replayed.sig"
    replay.write_text(str(used))
    made = run(project, "decide", second, "accept", "--reason", "x", "--payload-only")
    payload = tmp_path / "payload.json"
    payload.write_bytes(made.stdout_bytes)
    done = run(project, "decide", second, "--payload", str(payload), "--signature", str(replay))
    _refused(project, done, "replayed")


def test_a_decision_on_an_event_that_did_not_stop_observation_is_refused(
    tmp_path: Path, team: Team
) -> None:
    project = governed(tmp_path, team)
    stable = json.loads(run(project, "observe", "--json").stdout)["event_id"]
    frozen_by = drift(project)
    done = run(project, "decide", stable, "accept", "--reason", "x", *key_args(team.alice))
    assert frozen_by in _refused(project, done, "not-the-stop")


def test_accept_while_halted_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = incident(project)
    done = run(project, "decide", event_id, "accept", "--reason", "x", *key_args(team.alice))
    assert "incident" in _refused(project, done, "halted")
    assert state_of(project).mode == "HALTED"


def test_a_decision_without_a_written_reason_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    done = run(project, "decide", event_id, "accept", *key_args(team.alice))
    _refused(project, done, "reason")


def test_a_build_sealed_without_authority_cannot_decide(tmp_path: Path, team: Team) -> None:
    from .probe_projects import cat_project

    project = cat_project(tmp_path)
    event_id = drift(project)
    done = run(project, "decide", event_id, "accept", "--reason", "x", *key_args(team.alice))
    assert "AUTHORITY.toml" in _refused(project, done, "no-authority")


def test_a_forged_decision_in_the_log_is_an_incident(tmp_path: Path, team: Team) -> None:
    """Written straight into the log with the log's own key (as a thief of that key could),
    signed by nobody in AUTHORITY.toml: verify says INV-D-06, observe halts."""
    project = governed(tmp_path, team)
    event_id = drift(project)
    made = run(project, "decide", event_id, "accept", "--reason", "forged", "--payload-only")
    fields = json.loads(made.stdout_bytes)
    mallory = load_private_key(team.mallory.path)
    forged = sign(made.stdout_bytes, mallory)
    record = {**fields, "signers": [{"id": "amartin", "name": "Alice Martin", "key": "x",
                                     "signature": forged}], "payload_sha256": "0" * 64}  # fmt: skip
    from sealguard.config import load_config

    ledger.append(project.ledger(load_config(project.config_file)), "decision", record)
    assert state_of(project).mode == "OBSERVING"  # what the forged line claims
    checked = run(project, "verify")
    assert checked.exit_code == 3 and "INV-D-06" in checked.output, checked.output
    assert run(project, "observe").exit_code == 3
    assert state_of(project).mode == "HALTED"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(field=st.sampled_from(["reason", "meaning", "decision", "decided_at", "origin"]),
       data=st.data())  # fmt: skip
def test_any_change_to_a_signed_payload_fails_verification(
    team: Team, tmp_path: Path, field: str, data: st.DataObject
) -> None:
    authority = parse_authority(authority_text(team), tmp_path / "AUTHORITY.toml")
    payload = {
        "domain": "sealguard-decision/1", "origin": "sealguard/abc", "decision_id": "DEC_1",
        "decision": "accept", "meaning": "approval", "reason": "why", "decided_at": "2026-01-01T00:00:00Z",
        "answers": {"id": "RTE_1", "seq": 3, "leaf_hash": "00"}, "log": {"size": 4, "root": "11"},
        "result": None, "incident": None, "report_sha256": None,
    }  # fmt: skip
    data_bytes = encode(msgspec.convert(payload, Payload))
    signature = sign(data_bytes, load_private_key(team.alice.path))
    assert authorised_signer(authority, data_bytes, signature).id == "amartin"
    changed = dict(payload)
    choices = {"meaning": ["review", "responsibility"], "decision": ["investigate", "rollback"]}
    if field in choices:
        changed[field] = data.draw(st.sampled_from(choices[field]))
    else:
        changed[field] = data.draw(
            st.text(min_size=1, max_size=30).filter(lambda t: t != payload[field])
        )
    other = encode(msgspec.convert(changed, Payload))
    with pytest.raises(SignatureRefused):
        authorised_signer(authority, other, signature)


def test_an_unknown_event_is_named_as_unknown(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    drift(project)
    done = run(project, "decide", "RTE_nope", "accept", "--reason", "x", *key_args(team.alice))
    assert "no observation RTE_nope" in _refused(project, done, "unknown")


def test_options_beside_an_attached_payload_are_a_usage_error(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    made = run(project, "decide", event_id, "accept", "--reason", "signed", "--payload-only")
    payload = tmp_path / "payload.json"
    payload.write_bytes(made.stdout_bytes)
    done = run(project, "decide", event_id, "--payload", str(payload), "--reason", "other",
               *key_args(team.alice))  # fmt: skip
    assert done.exit_code == 64 and "--reason" in done.output


def test_a_payload_attached_under_another_target_is_a_usage_error(
    tmp_path: Path, team: Team
) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    made = run(project, "decide", event_id, "accept", "--reason", "signed", "--payload-only")
    payload = tmp_path / "payload.json"
    payload.write_bytes(made.stdout_bytes)
    done = run(project, "decide", "RTE_other", "--payload", str(payload), *key_args(team.alice))
    assert done.exit_code == 64 and f"answers {event_id}, not RTE_other" in done.output
    assert not events_of(project, "decision")
