"""`sealguard verify` checks every journaled review as it checks decisions (INV-D-06): a review
line written straight into the log, checkpoints re-signed with the log's own (stolen) key, is
found, by the incremental check and by the full one."""

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sealguard import ledger
from sealguard.config import load_config
from sealguard.decide.keys import load_private_key
from sealguard.decide.review_payload import NAMESPACE, encode, from_record
from sealguard.decide.sshsig import sign
from sealguard.project import Project

from .decision_projects import Team, events_of, governed, key_args, run
from .ssh_tools import SshKey


def _forge(project: Project, fields: dict[str, Any]) -> None:
    """A line appended straight to the log, checkpoint re-signed with the log's own key: what a
    thief of that key can do."""
    ledger.append(project.ledger(load_config(project.config_file)), "audit_review", fields)


def _valid(project: Project, team: Team) -> dict[str, Any]:
    until = datetime.now(UTC).replace(microsecond=0)
    done = run(project, "review", "--since", (until - timedelta(days=1)).isoformat(),
               "--until", until.isoformat(), "--reason", "real", *key_args(team.olga))  # fmt: skip
    assert done.exit_code == 0, done.output
    journaled = events_of(project, "audit_review")[-1]
    return {k: v for k, v in journaled.items() if k not in ("seq", "ts", "type")}


def _rehashed(fields: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`fields` with `changes` and a payload hash to match; the signatures left as they were."""
    changed = {**fields, **changes}
    data = encode(from_record(changed))
    return {**changed, "payload_sha256": hashlib.sha256(data).hexdigest()}


def _elsewhere(fields: dict[str, Any], key: SshKey) -> dict[str, Any]:
    """`fields` under a new id, with a real signature by `key` made over something else."""
    signature = sign(b"something else\n", load_private_key(key.path, None), NAMESPACE)
    signers = [{**fields["signers"][0], "signature": signature}]
    return {**fields, "review_id": "REV_20260101_000000_0000000a", "signers": signers}


def _resigned(fields: dict[str, Any], key: SshKey, namespace: str = NAMESPACE, **changes: Any):  # type: ignore[no-untyped-def]
    """`fields` with `changes`, its payload hash made to match, signed again by `key`."""
    changed = {**fields, **changes}
    data = encode(from_record(changed))
    signature = sign(data, load_private_key(key.path, None), namespace)
    signers = [{**changed["signers"][0], "signature": signature}]
    return {**changed, "signers": signers, "payload_sha256": hashlib.sha256(data).hexdigest()}


def _as_alice(fields: dict[str, Any]) -> dict[str, Any]:
    """Olga's signature, recorded as Alice's."""
    signers = [{**fields["signers"][0], "id": "amartin", "name": "Alice Martin"}]
    return {**fields, "signers": signers}


def _found(project: Project, says: str) -> None:
    for args in ([], ["--full"]):
        checked = run(project, "verify", *args)
        assert checked.exit_code == 3, checked.output
        assert "INV-D-06" in checked.output and says in checked.output, checked.output


@pytest.mark.parametrize(
    ("forgery", "says"),
    [
        ("edited", "a signature does not hold: the signature does not verify"),
        ("fields-only", "its payload hash does not match its fields"),
        ("mallory", "no person in AUTHORITY.toml holds it"),
        ("decision-namespace", '"sealguard-decision", not "sealguard-review"'),
        ("someone-else", "signer recorded as amartin but the key is opetit's"),
        ("unsigned", "it carries no signature"),
        ("copied", "replayed: its id was journaled at seq"),
        ("not-a-review", "not a review record"),
    ],
)
def test_a_review_line_forged_into_the_log_is_found(
    tmp_path: Path, team: Team, forgery: str, says: str
) -> None:
    project = governed(tmp_path, team)
    valid = _valid(project, team)
    assert run(project, "verify").exit_code == 0  # the incremental check starts here
    forged = {
        "edited": _rehashed(_elsewhere({**valid, "reason": "other"}, team.olga)),
        "fields-only": _elsewhere({**valid, "reason": "other"}, team.olga),
        "mallory": _resigned(valid, team.mallory, review_id="REV_20260101_000000_00000000"),
        "decision-namespace": _resigned(
            valid, team.olga, "sealguard-decision", review_id="REV_20260101_000000_00000001"
        ),
        "someone-else": _as_alice(
            _resigned(valid, team.olga, review_id="REV_20260101_000000_00000002")
        ),
        "unsigned": {
            **_rehashed(valid, review_id="REV_20260101_000000_00000003"), "signers": []
        },
        "copied": valid,
        "not-a-review": {"review_id": "REV_20260101_000000_00000004", "period": "all of it"},
    }[forgery]  # fmt: skip
    _forge(project, forged)
    _found(project, says)


def test_a_review_whose_signers_saw_another_log_is_found(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    valid = _valid(project, team)
    log = {"size": valid["log"]["size"], "root": "00" * 32}
    _forge(project, _resigned(valid, team.olga, review_id="REV_20260101_000000_00000005", log=log))
    _found(project, "the log its signers saw is not a prefix of this log")


def test_a_review_is_held_to_the_authority_in_force_when_it_was_made(
    tmp_path: Path, team: Team
) -> None:
    """Signed by a key the AUTHORITY.toml in force never listed: it does not hold, whatever
    the file in the working tree says (verify reads the one journaled with the seal)."""
    project = governed(tmp_path, team)
    valid = _valid(project, team)
    extra = project.authority_file.read_text() + (
        f'[[person]]\nid = "mal"\nname = "Mallory"\nroles = ["operator"]\n'
        f'keys = ["{team.mallory.line}"]\n'
    )
    project.authority_file.write_text(extra)  # an INV-D-02 change too; not what is asked here
    _forge(project, _resigned(valid, team.mallory, review_id="REV_20260101_000000_00000006"))
    checked = run(project, "verify", "--full")
    assert checked.exit_code == 3 and "no person in AUTHORITY.toml holds it" in checked.output
