"""Compact ranges hashed in bulk and joined give the tree that pushing leaf by leaf gives."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealguard.ledger.compact import Span, leaf_hashes
from sealguard.ledger.merkle import EMPTY_ROOT, CompactRange, leaf_hash


def _pushed(lines: list[bytes]) -> CompactRange:
    tree = CompactRange()
    for line in lines:
        tree.push(leaf_hash(line))
    return tree


def _lines(count: int) -> list[bytes]:
    return [b"line %d" % i for i in range(count)]


@settings(max_examples=150, deadline=None)
@given(
    count=st.integers(0, 300),
    cuts=st.lists(st.integers(0, 300), max_size=4),
    batch=st.integers(1, 70),
    marks=st.lists(st.integers(1, 300), max_size=12),
)
def test_spans_hashed_in_batches_and_joined_are_the_pushed_tree(
    count: int, cuts: list[int], batch: int, marks: list[int]
) -> None:
    """Any split into ranges (as workers get them), any batch size inside a range, and any
    sizes at which a root is wanted (checkpoints)."""
    lines = _lines(count)
    bounds = sorted({0, count, *(c for c in cuts if c <= count)})
    wanted = sorted({m for m in marks if m <= count})
    whole = Span.starting(0)
    roots: dict[int, bytes] = {}
    for begin, end in itertools.pairwise(bounds):
        span, seen = Span.starting(begin), {}
        for first in range(begin, end, batch):
            last = min(first + batch, end)
            leaves = leaf_hashes(lines[first:last])
            seen |= span.extend(leaves, [m for m in wanted if first < m <= last])
        assert span.end == end
        roots |= {size: whole.join(part).root() for size, part in seen.items()}
        whole = whole.join(span)
    assert whole.compact().hashes == _pushed(lines).hashes
    assert whole.root() == _pushed(lines).root()
    assert roots == {size: _pushed(lines[:size]).root() for size in wanted}


def test_an_empty_span_is_the_empty_tree() -> None:
    assert Span.starting(0).root() == EMPTY_ROOT
    assert Span.starting(0).compact().size == 0


def test_spans_join_only_where_they_meet() -> None:
    left, right = Span.starting(0), Span.starting(5)
    left.extend(leaf_hashes(_lines(4)))
    with pytest.raises(ValueError, match="cannot take one from 5"):
        left.join(right)
    with pytest.raises(ValueError, match="not a whole tree"):
        right.compact()


def test_a_span_can_go_on_from_a_whole_tree() -> None:
    lines = _lines(77)
    later = Span.starting(45)
    later.extend(leaf_hashes(lines[45:]))
    assert Span.of(_pushed(lines[:45])).join(later).root() == _pushed(lines).root()
