"""Events as RFC 8785 canonical JSON: round trips, and the fast check agrees with rfc8785."""

import json

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from sealguard.ledger.canonical import (
    EventValueError,
    all_canonical,
    canonical_problem,
    encode_event,
)

keys = st.text(st.characters(max_codepoint=127), max_size=8)
scalars = st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=20)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
events = st.dictionaries(keys, values, max_size=6)


@given(events)
def test_round_trip(event: dict) -> None:
    line = encode_event(event)
    assert canonical_problem(line) is None
    assert all_canonical([line]) is not None
    back = json.loads(line)
    assert encode_event(back) == line


@given(events)
def test_big_integers_become_strings(event: dict) -> None:
    back = json.loads(encode_event({**event, "n": 2**53, "m": -(2**60)}))
    assert back["n"] == str(2**53) and back["m"] == str(-(2**60))


@given(st.lists(events, min_size=1, max_size=5))
def test_fast_batch_check_agrees_with_rfc8785(batch: list[dict]) -> None:
    lines = [encode_event(e) for e in batch]
    assert all_canonical(lines) is not None
    spaced = [json.dumps(json.loads(line), indent=1).encode() for line in lines]
    for original, other in zip(lines, spaced, strict=True):
        if other != original:
            assert all_canonical([other]) is None
            assert canonical_problem(other) is not None


def test_floats_and_odd_keys_are_refused() -> None:
    with pytest.raises(EventValueError, match="floats are not allowed"):
        encode_event({"x": 1.5})
    with pytest.raises(EventValueError, match="keys must be ASCII"):
        encode_event({"é": 1})
    assert canonical_problem(b'{"x":1.5}') is not None
    assert all_canonical([b'{"x":1.5}']) is None


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b'{"b":1,"a":2}', "not canonical"),
        (b'{"a": 2}', "not canonical"),
        (b'{"a":"\\u00e9"}', "not canonical"),
        (b"[1]", "not a JSON object"),
        (b"{nope", "not JSON"),
    ],
)
def test_non_canonical_lines(line: bytes, problem: str) -> None:
    found = canonical_problem(line)
    assert found is not None and found.startswith(problem)
    assert rfc8785.dumps(json.loads(line)) != line if problem == "not canonical" else True


@pytest.mark.parametrize(
    "line",
    [
        b'{"n":123456789012345678901234567890,"seq":0,"ts":"t","type":"x"}',
        b'{"n":9007199254740992,"seq":0,"ts":"t","type":"x"}',
        b'{"seq":0,"ts":"t","type":"x","\xc3\xa9":1}',
        b"[1]",
    ],
)
def test_the_fast_check_refuses_what_the_line_check_refuses(line: bytes) -> None:
    """A whole batch is accepted at once only when each line would pass on its own: an integer
    beyond 2^53, a non-ASCII key (both written by msgspec as they came) or a line that is no
    object went through the fast path, while the same line in a batch with a bad one was found."""
    assert canonical_problem(line) is not None
    assert all_canonical([line]) is None
    ok = b'{"seq":0,"ts":"t","type":"x"}'
    assert all_canonical([ok]) == [{"seq": 0, "ts": "t", "type": "x"}]
