"""RFC 6962 tree hashing, RFC 9162 inclusion and consistency proofs."""

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealguard.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    Nodes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    subtree_root,
    verify_consistency,
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


def _rfc_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    """RFC 6962 §2.1.2 SUBPROOF, written as the RFC says it."""
    n = len(leaves)
    if m == n:
        return [] if complete else [_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*_rfc_subproof(m, leaves[:k], complete), _mth(leaves[k:])]
    return [*_rfc_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


@given(st.integers(1, 70), st.data())
def test_consistency_proofs_from_known_nodes_verify_and_tampering_does_not(
    new: int, data: st.DataObject
) -> None:
    leaves = [leaf_hash(str(i).encode()) for i in range(new)]
    old = data.draw(st.integers(0, new))
    base = CompactRange()
    for leaf in leaves[:old]:
        base.push(leaf)
    nodes = Nodes(base, leaves[old:])  # what a writer holds: the old range and the new leaves
    proof = consistency_proof(old, new, nodes.root)
    assert proof == (_rfc_subproof(old, leaves, True) if 0 < old < new else [])
    old_root, new_root = _mth(leaves[:old]), _mth(leaves)
    assert verify_consistency(old, new, old_root, new_root, proof)
    if 0 < old < new:
        bad = leaf_hash(b"x")
        assert not verify_consistency(old, new, bad, new_root, proof)
        assert not verify_consistency(old, new, old_root, bad, proof)
        assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
        assert not verify_consistency(old, new, old_root, new_root, [*proof, bad])
        index = data.draw(st.integers(0, len(proof) - 1))
        changed = [*proof[:index], bad, *proof[index + 1 :]]
        assert not verify_consistency(old, new, old_root, new_root, changed)
    assert not verify_consistency(new + 1, new, new_root, new_root, [])


def test_nodes_refuse_what_they_cannot_give() -> None:
    base = CompactRange()
    for i in range(6):
        base.push(leaf_hash(bytes([i])))
    nodes = Nodes(base, [leaf_hash(b"6")])
    assert nodes.size == 7 and nodes.root(0, 4) == base.hashes[0]
    with pytest.raises(ValueError, match="not among the known nodes"):
        nodes.root(0, 2)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(8, 7, nodes.root)
