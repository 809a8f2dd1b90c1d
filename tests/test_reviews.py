"""`sealguard review`: a signed review of the audit trail for a period (issue 12, item 2).

Real ssh-keygen keys, real signatures (sealguard's, and `ssh-keygen -Y sign -n
sealguard-review` for a payload signed elsewhere), the real CLI, the real report content hash.
"""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.decide import reviews
from sealguard.decide.review_payload import NAMESPACE, decode, parse_moment
from sealguard.errors import RefusedError
from sealguard.ledger import view

from .decision_projects import Team, drift, events_of, governed, key_args, run, state_of
from .ssh_tools import keygen_sign, keygen_verify


def _period(days: int = 1) -> list[str]:
    """A period that ends at the start of this second (observations are placed in a period by
    their observed_at, to the second): never in the future of the command that runs next."""
    until = datetime.now(UTC).replace(microsecond=0)
    return ["--since", (until - timedelta(days=days)).isoformat(), "--until", until.isoformat()]


def _review(project, *args: str):  # type: ignore[no-untyped-def]
    return run(project, "review", *_period(), *args)


def _refused(project, done, code: str) -> str:  # type: ignore[no-untyped-def]
    assert done.exit_code == 4, done.output
    assert done.output.startswith(f"sealguard: review refused ({code}): "), done.output
    assert len(done.output.strip().splitlines()) == 1, done.output
    attempts = events_of(project, "review_refused")
    assert attempts and attempts[-1]["reason_code"] == code, attempts
    assert events_of(project, "audit_review") == []
    return str(done.output)


def _payload(project, tmp_path: Path, *args: str) -> Path:  # type: ignore[no-untyped-def]
    made = _review(project, "--reason", "monthly review", "--payload-only", *args)
    assert made.exit_code == 0, made.output
    payload = tmp_path / "payload.json"
    payload.write_bytes(made.stdout_bytes)
    return payload


def _attach(project, payload: Path, *signatures: Path):  # type: ignore[no-untyped-def]
    return run(project, "review", "--payload", str(payload),
               *[a for s in signatures for a in ("--signature", str(s))])  # fmt: skip


def _signed(key, payload: Path, namespace: str = NAMESPACE) -> Path:  # type: ignore[no-untyped-def]
    signature = payload.with_name(f"{key.path.name}.{namespace}.sig")
    signature.write_text(keygen_sign(key, payload, namespace))
    return signature


# -- valid reviews -------------------------------------------------------------------------


def test_an_operator_signs_a_review_of_the_report_for_a_period(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    assert run(project, "observe").exit_code == 0
    done = _review(project, "--reason", "monthly review of the trail", *key_args(team.olga))
    assert done.exit_code == 0, done.output
    assert "signed by Olga Petit (opetit, operator)" in done.output
    assert "(meaning: review): monthly review of the trail" in done.output
    [review] = events_of(project, "audit_review")
    since, until = (parse_moment(str(review["period"][end])) for end in ("since", "until"))  # type: ignore[index]
    config = load_config(project.config_file)
    assert review["report_sha256"] == reviews.report_content(project, config, since, until)
    assert review["meaning"] == "review" and review["domain"] == "sealguard-review/1"
    assert str(review["review_id"]).startswith("REV_")
    [signer] = review["signers"]  # type: ignore[misc]
    assert (signer["id"], signer["name"], signer["role"]) == ("opetit", "Olga Petit", "operator")
    assert signer["key"] == team.olga.public.fingerprint
    seen = view.leaves(project.log_file).root(review["seq"])  # type: ignore[arg-type]
    assert review["log"] == {"size": review["seq"], "root": seen.hex()}  # type: ignore[union-attr]
    assert review["origin"] == view.latest_checkpoint(project.ledger(config)).origin
    shown = run(project, "log", "show", "--type", "audit_review").output  # §11.50(b)
    assert f"{review['review_id']} review of the audit trail from " in shown
    assert "signed by Olga Petit (opetit, operator) at " in shown and "(meaning: review)" in shown


def test_an_architect_signs_a_review(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    done = _review(project, "--reason", "quarterly", *key_args(team.alice))
    assert done.exit_code == 0, done.output
    [review] = events_of(project, "audit_review")
    assert [s["role"] for s in review["signers"]] == ["architect"]  # type: ignore[attr-defined]


def test_two_signers_each_recorded_once(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    done = _review(project, "--reason", "q", *key_args(team.alice, team.olga, team.olga))
    assert done.exit_code == 0, done.output
    assert "Alice Martin (amartin, architect), Olga Petit (opetit, operator)" in done.output
    [review] = events_of(project, "audit_review")
    assert [s["id"] for s in review["signers"]] == ["amartin", "opetit"]  # type: ignore[attr-defined]


def test_a_payload_signed_elsewhere_with_ssh_keygen(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    payload = _payload(project, tmp_path)
    assert decode(payload.read_bytes()).reason == "monthly review"
    done = _attach(project, payload, _signed(team.olga, payload), _signed(team.bob, payload))
    assert done.exit_code == 0, done.output
    [review] = events_of(project, "audit_review")
    assert [s["id"] for s in review["signers"]] == ["opetit", "bdurand"]  # type: ignore[attr-defined]
    # and the other way: ssh-keygen verifies what sealguard journaled
    signature = str(review["signers"][0]["signature"])  # type: ignore[index]
    checked = keygen_verify(team.olga, "opetit", signature, payload, NAMESPACE)
    assert checked.returncode == 0, checked.stderr


def test_the_report_shows_the_hash_signed_and_the_review(tmp_path: Path, team: Team) -> None:
    """The signer signed what `report` shows for the period; the next report lists the
    review, by whom, and that the period folded again still gives the hash signed."""
    project = governed(tmp_path, team)
    assert run(project, "observe").exit_code == 0
    period = _period()
    done = run(project, "review", *period, "--reason", "read", *key_args(team.olga))
    assert done.exit_code == 0, done.output
    assert run(project, "observe").exit_code == 0  # after the period: it changes nothing in it
    shown = run(project, "report", "--json", *period)
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    [review] = events_of(project, "audit_review")
    assert data["content_sha256"] == review["report_sha256"]
    [listed] = data["reviews"]
    assert listed["review_id"] == review["review_id"] and listed["matches"] is True
    assert listed["signers"] == ["Olga Petit (opetit, operator)"]
    assert (listed["meaning"], listed["reason"]) == ("review", "read")


def test_an_ssh_agent_signs_a_review_in_the_review_namespace(
    tmp_path: Path, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .ssh_tools import ssh_add, ssh_agent

    project = governed(tmp_path, team)
    with ssh_agent(tmp_path) as socket:
        ssh_add(socket, team.olga)
        monkeypatch.setenv("SSH_AUTH_SOCK", socket)
        done = _review(project, "--reason", "via agent", "--agent")
    assert done.exit_code == 0, done.output
    [review] = events_of(project, "audit_review")
    assert [s["id"] for s in review["signers"]] == ["opetit"]  # type: ignore[attr-defined]


def _status(project) -> str:  # type: ignore[no-untyped-def]
    """`status` without its countdowns (an escalation's time left moves while the test runs)."""
    return re.sub(r"\b[0-9hms]+ (left|ago|overdue)\b", "(time)", run(project, "status").output)


def test_a_review_changes_neither_the_state_nor_an_escalation(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    drift(project)
    before, status = state_of(project), _status(project)
    escalations = run(project, "escalations", "--json").output
    done = _review(project, "--reason", "read while frozen", *key_args(team.alice))
    assert done.exit_code == 0, done.output
    assert state_of(project) == before and before.mode == "FROZEN"
    assert _status(project) == status
    assert run(project, "escalations", "--json").output == escalations
    assert events_of(project, "escalation_acknowledged") == []


def test_verify_holds_a_valid_review_full_and_incremental(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    assert run(project, "verify").exit_code == 0  # the incremental check starts from here
    assert _review(project, "--reason", "r", *key_args(team.olga)).exit_code == 0
    for args in ([], ["--full"]):
        checked = run(project, "verify", *args)
        assert checked.exit_code == 0, checked.output


# -- refusals: exit 4, one line, journaled as review_refused -------------------------------


def test_a_review_without_a_reason_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    _refused(project, _review(project, *key_args(team.olga)), "reason")


def test_a_period_that_ends_before_it_starts_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    done = run(project, "review", "--since", "2026-11-02T00:00:00Z", "--until",
               "2026-11-01T00:00:00Z", "--reason", "r", *key_args(team.olga))  # fmt: skip
    assert "ends (2026-11-01T00:00:00Z) before it starts" in _refused(project, done, "period")
    empty = run(project, "review", "--since", "2026-11-01", "--until", "2026-11-01T00:00:00Z",
                "--reason", "r", *key_args(team.olga))  # fmt: skip
    assert "holds nothing" in _refused(project, empty, "period")


@pytest.mark.parametrize("later", [timedelta(hours=1), timedelta(minutes=1)])
def test_a_period_that_ends_in_the_future_is_refused(
    tmp_path: Path, team: Team, later: timedelta
) -> None:
    project = governed(tmp_path, team)
    until = (datetime.now(UTC) + later).isoformat()
    done = run(project, "review", "--since", "2026-01-01", "--until", until, "--reason", "r",
               *key_args(team.olga))  # fmt: skip
    assert "in the future" in _refused(project, done, "future")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--until", "2026-11-01T00:00:00Z"], "--since is required"),
        (["--since", "yesterday", "--until", "2026-11-01"], "--since 'yesterday' is not an ISO"),
    ],
)
def test_a_period_not_given_as_iso_times_is_a_usage_error(
    tmp_path: Path, team: Team, args: list[str], says: str
) -> None:
    project = governed(tmp_path, team)
    done = run(project, "review", *args, "--reason", "r", *key_args(team.olga))
    assert done.exit_code == 64, done.output
    assert says in done.output and len(done.output.strip().splitlines()) == 1
    assert events_of(project, "review_refused") == []  # a typo, not an attempt


def test_an_unsigned_review_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    _refused(project, _review(project, "--reason", "r"), "unsigned")


def test_a_key_nobody_in_authority_holds_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    done = _review(project, "--reason", "r", *key_args(team.mallory))
    assert team.mallory.public.fingerprint in _refused(project, done, "unknown-key")


def test_a_decision_signature_never_counts_as_a_review(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    payload = _payload(project, tmp_path)
    done = _attach(project, payload, _signed(team.alice, payload, "sealguard-decision"))
    assert '"sealguard-decision", not "sealguard-review"' in _refused(project, done, "namespace")


def test_a_review_signature_never_counts_as_a_decision(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    made = run(project, "decide", event_id, "accept", "--reason", "x", "--payload-only")
    payload = tmp_path / "decision.json"
    payload.write_bytes(made.stdout_bytes)
    signature = _signed(team.alice, payload, NAMESPACE)
    done = run(
        project, "decide", event_id, "--payload", str(payload), "--signature", str(signature)
    )
    assert done.exit_code == 4 and "decision refused (namespace)" in done.output, done.output


def test_a_decision_payload_is_not_a_review_payload(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = drift(project)
    made = run(project, "decide", event_id, "accept", "--reason", "x", "--payload-only")
    payload = tmp_path / "decision.json"
    payload.write_bytes(made.stdout_bytes)
    done = _attach(project, payload, _signed(team.alice, payload))
    assert 'domain is "sealguard-decision/1"' in _refused(project, done, "payload")


def test_a_payload_altered_after_signing_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    payload = _payload(project, tmp_path)
    signature = _signed(team.olga, payload)
    altered = json.loads(payload.read_bytes())
    altered["reason"] = "another text"
    payload.write_bytes(json.dumps(altered, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    _refused(project, _attach(project, payload, signature), "mismatch")


@pytest.mark.parametrize("second", ["olga", "bob"])
def test_a_replayed_review_is_refused(tmp_path: Path, team: Team, second: str) -> None:
    """The same payload again, with the same signature or another signer's."""
    project = governed(tmp_path, team)
    payload = _payload(project, tmp_path)
    assert _attach(project, payload, _signed(team.olga, payload)).exit_code == 0
    again = _attach(project, payload, _signed(getattr(team, second), payload))
    assert again.exit_code == 4, again.output
    assert again.output.startswith("sealguard: review refused (replayed): REV_"), again.output
    assert events_of(project, "review_refused")[-1]["reason_code"] == "replayed"
    assert len(events_of(project, "audit_review")) == 1


def test_a_payload_made_for_another_log_is_refused(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    other = governed(tmp_path, team, name="other")
    payload = _payload(other, tmp_path)
    _refused(project, _attach(project, payload, _signed(team.olga, payload)), "origin")


def test_a_payload_gone_stale_when_the_period_gained_events_is_refused(
    tmp_path: Path, team: Team
) -> None:
    """A period that ends in half an hour, reviewed (clock given) an hour from now: an
    observation made meanwhile falls in it, so the report for it is not the one signed."""
    project = governed(tmp_path, team)
    config = load_config(project.config_file)
    start, later = datetime.now(UTC), datetime.now(UTC) + timedelta(hours=1)
    request = reviews.ReviewRequest(start - timedelta(days=1), start + timedelta(minutes=30), "r")
    data = reviews.prepare(project, config, request, later)
    assert run(project, "observe").exit_code == 0
    from sealguard.decide.keys import load_private_key
    from sealguard.decide.sshsig import sign

    signature = sign(data, load_private_key(team.olga.path, None), NAMESPACE)
    with pytest.raises(RefusedError, match=r"^review refused \(stale\): the report for this"):
        reviews.record(project, config, data, [signature], later)
    assert events_of(project, "review_refused")[-1]["reason_code"] == "stale"
    assert events_of(project, "audit_review") == []


def test_payload_options_carry_their_own_period(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    payload = _payload(project, tmp_path)
    done = run(project, "review", "--payload", str(payload), "--reason", "other")
    assert done.exit_code == 64 and "drop --reason" in done.output, done.output


def test_a_person_who_is_neither_operator_nor_architect_cannot_review(team: Team) -> None:
    """AUTHORITY.toml's validation gives every person a role today; the check does not rely
    on it (a role added later, such as an auditor's, must not sign reviews by default)."""
    from sealguard.decide.authority import Authority, Person
    from sealguard.decide.keys import load_private_key
    from sealguard.decide.sshsig import SignatureRefused, sign

    nobody = Person(id="mal", name="Mallory", roles=[], keys=[team.mallory.public])
    authority = Authority(people=[nobody])
    signature = sign(b"payload\n", load_private_key(team.mallory.path, None), NAMESPACE)
    with pytest.raises(SignatureRefused, match=r"Mallory \(mal\) .* neither an operator nor"):
        reviews.reviewer(authority, b"payload\n", signature)


def test_a_review_while_an_observation_runs_is_busy_and_journals_nothing(
    tmp_path: Path, team: Team
) -> None:
    from sealguard.lock import observer_lock

    project = governed(tmp_path, team)
    with observer_lock(project.ledger(load_config(project.config_file)).folder):
        done = _review(project, "--reason", "r", *key_args(team.olga))
    assert done.exit_code == 75, done.output
    assert "another observation, decision or review of this project is running" in done.output
    assert events_of(project, "audit_review") == events_of(project, "review_refused") == []


def test_the_report_lists_the_stretches_no_review_covers(tmp_path: Path, team: Team) -> None:
    """The report's period, less the reviewed ones: which periods were not reviewed."""
    project = governed(tmp_path, team)
    assert run(project, "observe").exit_code == 0
    until = datetime.now(UTC).replace(microsecond=0)
    reviewed = [(until - timedelta(days=1)).isoformat(), until.isoformat()]
    done = run(project, "review", "--since", reviewed[0], "--until", reviewed[1], "--reason", "r",
               *key_args(team.olga))  # fmt: skip
    assert done.exit_code == 0, done.output
    start, end = until - timedelta(days=2), until + timedelta(hours=1)
    shown = run(
        project, "report", "--json", "--since", start.isoformat(), "--until", end.isoformat()
    )
    assert shown.exit_code == 0, shown.output

    def z(moment: datetime) -> str:
        return moment.isoformat().replace("+00:00", "Z")

    assert json.loads(shown.stdout)["unreviewed"] == [
        {"since": z(start), "until": z(until - timedelta(days=1))},
        {"since": z(until), "until": z(end)},
    ]
    page = tmp_path / "report.html"
    written = run(
        project, "report", "-o", str(page), "--since", start.isoformat(), "--until", end.isoformat()
    )
    assert written.exit_code == 0, written.output
    assert f"<li>{z(start)} – {z(until - timedelta(days=1))}</li>" in page.read_text()
