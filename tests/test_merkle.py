"""RFC 6962 tree hashing and RFC 9162 inclusion proofs."""

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from sealguard.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    subtree_root,
)


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, written as the RFC says it, to hold the fast code to."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def test_known_vectors() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    # RFC 6962 test vector: the leaf hash of the empty string
    assert (
        leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@given(st.lists(st.binary(max_size=8), max_size=70))
def test_compact_range_root_is_mth(data: list[bytes]) -> None:
    leaves = [leaf_hash(d) for d in data]
    tree = CompactRange()
    for i, leaf in enumerate(leaves):
        tree.push(leaf)
        assert tree.root() == _mth(leaves[: i + 1])
    assert subtree_root(leaves) == _mth(leaves)
    assert CompactRange(tree.size, tree.hashes).root() == tree.root()


@given(st.integers(1, 80), st.data())
def test_every_inclusion_proof_verifies_and_a_changed_event_does_not(
    size: int, data: st.DataObject
) -> None:
    lines = [f'{{"seq":{i}}}'.encode() for i in range(size)]
    leaves = [leaf_hash(line) for line in lines]
    root = _mth(leaves)
    for index in range(size):
        proof = inclusion_proof(leaves, index)
        assert root_from_inclusion(index, size, leaves[index], proof) == root
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(leaves, index)
    changed = leaf_hash(lines[index] + b" ")
    assert root_from_inclusion(index, size, changed, proof) != root
    if size > 1:
        assert root_from_inclusion((index + 1) % size, size, leaves[index], proof) != root


def test_malformed_proofs_are_refused() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(5)]
    proof = inclusion_proof(leaves, 2)
    assert root_from_inclusion(5, 5, leaves[2], proof) is None
    assert root_from_inclusion(2, 5, leaves[2], proof[:-1]) is None
    assert root_from_inclusion(2, 5, leaves[2], [*proof, proof[0]]) is None
