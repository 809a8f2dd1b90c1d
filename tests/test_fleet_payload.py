"""The fleet decision's payload: canonical, domain-separated, and where it applies. Pure."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealguard.decide import fleet_payload
from sealguard.decide.fleet_payload import FleetPayload, Proposed, Scope

# names as a scope accepts them: not blank (U+0085 and U+00A0 are blank to str.strip too)
NAMES = st.text(
    st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=12
).filter(str.strip)
SCOPES = st.one_of(
    st.builds(lambda b: Scope(build=b), NAMES),
    st.builds(lambda h: fleet_payload.scope_of(h, None), st.lists(NAMES, min_size=1)),
)


def payload(**changes: object) -> FleetPayload:
    fields: dict[str, object] = {
        "domain": fleet_payload.DOMAIN,
        "decision_id": "DEC_20261127_000000_00000000",
        "project": "calc",
        "scope": Scope(build="calc-1"),
        "decision": "reseal",
        "meaning": "approval",
        "reason": "release 1.1",
        "decided_at": "2026-11-27T00:00:00Z",
        "base_sha256": "a" * 64,
        "proposal": Proposed(id="PRO_x", content_sha256="b" * 64, baseline_sha256="c" * 64),
    }
    return FleetPayload(**{**fields, **changes})  # type: ignore[arg-type]


@given(scope=SCOPES, reason=st.text(max_size=40), project=NAMES)
def test_a_payload_written_then_read_is_the_same(scope: Scope, reason: str, project: str) -> None:
    made = payload(scope=scope, reason=reason, project=project)
    data = fleet_payload.encode(made)
    assert fleet_payload.decode(data) == made
    assert fleet_payload.from_builtins(fleet_payload.to_builtins(made)) == made
    assert fleet_payload.is_fleet_payload(data)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"{", "truncated"),
        (fleet_payload.encode(payload()).replace(b"\n", b" \n"), "canonical"),
        (fleet_payload.encode(payload(domain="sealguard-decision/1")), "domain"),
        (fleet_payload.encode(payload(scope=Scope())), "either hosts or a build"),
        (fleet_payload.encode(payload(scope=Scope(hosts=["b", "a"]))), "sorted"),
        (fleet_payload.encode(payload(scope=Scope(hosts=[]))), "non-empty"),
        (fleet_payload.encode(payload(scope=Scope(build="a\nb"))), "one line"),
    ],
)
def test_what_is_not_a_fleet_payload_is_said(data: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        fleet_payload.decode(data)


def test_a_hosts_decision_payload_is_not_a_fleet_one() -> None:
    assert not fleet_payload.is_fleet_payload(b'{"domain": "sealguard-decision/1"}\n')
    assert not fleet_payload.is_fleet_payload(b"not json")
    with pytest.raises(ValueError, match="decision_id"):
        fleet_payload.from_builtins({"domain": fleet_payload.DOMAIN})


@pytest.mark.parametrize(
    ("scope", "place", "why"),
    [
        (Scope(build="calc-1"), ("calc", "h1", "calc-1"), None),
        (Scope(build="calc-1"), ("calc", "h1", "calc-2"), "runs build calc-2"),
        (Scope(build="calc-1"), ("calc", "h1", None), "no named build"),
        (Scope(hosts=["h1", "h2"]), ("calc", "h2", None), None),
        (Scope(hosts=["h1"]), ("calc", "h2", "calc-1"), "this host is h2"),
        (Scope(build="calc-1"), ("other", "h1", "calc-1"), "this host runs other"),
    ],
)
def test_where_a_decision_applies(
    scope: Scope, place: tuple[str, str, str | None], why: str | None
) -> None:
    found = fleet_payload.not_here(payload(scope=scope), *place)
    assert (found is None) if why is None else (found is not None and why in found)


def test_the_content_hash_covers_what_every_host_journals_and_nothing_of_one_host() -> None:
    record = {"proposal_id": "PRO_x", "kind": "reseal", "files": {"a": "1"}, "base_version": 1}
    digest = fleet_payload.content_sha256(record)
    assert fleet_payload.content_sha256({**record, "base_version": 7, "seq": 9}) == digest
    assert fleet_payload.content_sha256({**record, "files": {"a": "2"}}) != digest
    assert fleet_payload.content_sha256({**record, "fleet": {"scope": {}}}) != digest
