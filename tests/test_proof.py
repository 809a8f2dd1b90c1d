"""Inclusion proofs: made from the log, checked offline, refused when anything differs."""

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealguard.errors import DataError, UsageError
from sealguard.ledger import read_events
from sealguard.ledger.keys import create_key, origin_for, public_bytes
from sealguard.ledger.note import verifier_key
from sealguard.ledger.proof import check_proof, prove

from .ledger_helpers import make_log


@pytest.fixture(scope="module")
def log13(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return make_log(tmp_path_factory.mktemp("p") / "rt", 13)


def _key_of(ledger) -> str:  # type: ignore[no-untyped-def]
    return read_events(ledger.log)[0]["log_key"]["verifier_key"]


@settings(max_examples=13)
@given(st.integers(0, 12))
def test_every_seq_proves_with_a_trusted_key(log13, seq: int) -> None:  # type: ignore[no-untyped-def]
    bundle = prove(log13, seq)
    check = check_proof(bundle, _key_of(log13))
    assert check.valid, check.reason
    assert bundle["event"]["seq"] == seq


def test_a_changed_event_does_not_prove(log13) -> None:  # type: ignore[no-untyped-def]
    bundle = prove(log13, 4)
    line = base64.b64decode(bundle["line_b64"]).replace(b"event number 4", b"event number 5")
    bundle["line_b64"] = base64.b64encode(line).decode()
    bundle["event"] = json.loads(line)
    check = check_proof(bundle, _key_of(log13))
    assert not check.valid and "does not lead to the checkpoint's root" in check.reason


def test_a_key_you_do_not_trust_is_refused(log13, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = public_bytes(create_key(tmp_path / "k.pem"))
    check = check_proof(prove(log13, 0), verifier_key(origin_for(other), other))
    assert not check.valid and "not signed by the key from --key" in check.reason


def test_bad_bundles_are_data_errors(log13) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match="not a sealguard-inclusion-proof/1 object"):
        check_proof({"format": "x"}, None)
    bundle = prove(log13, 1)
    bundle["proof"] = ["%%%"]
    with pytest.raises(DataError, match="bad base64"):
        check_proof(bundle, None)
    del bundle["seq"]
    with pytest.raises(DataError, match="`seq` is missing"):
        check_proof(bundle, None)


def test_proving_beyond_the_checkpoint_is_a_usage_error(log13) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="seq 13 is not covered"):
        prove(log13, 13)


def test_cli_prove_then_check_offline(make_project, invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = make_project()
    invoke("--project", str(project.root), "seal")
    target = tmp_path / "proof.json"
    assert (
        invoke("--project", str(project.root), "log", "prove", "0", "-o", str(target)).exit_code
        == 0
    )
    result = invoke("log", "check-proof", str(target))
    assert result.exit_code == 0 and result.output.startswith(
        "VALID: event seq 0 is in the log of 1 lines"
    )
    assert "pass --key with a key you trust" in result.output
    bundle = json.loads(target.read_text())
    bundle["seq"] = 1
    target.write_text(json.dumps(bundle))
    result = invoke("log", "check-proof", str(target))
    assert result.exit_code == 3 and result.output.startswith("INVALID")
    target.write_text("{")
    assert invoke("log", "check-proof", str(target)).exit_code == 65
