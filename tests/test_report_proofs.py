"""Several inclusion proofs from one pass (report/proofs.py): the very paths `log prove` makes."""

from hypothesis import given
from hypothesis import strategies as st

from sealguard.ledger.merkle import inclusion_proof, leaf_hash, root_from_inclusion, subtree_root
from sealguard.report.proofs import audit_paths


def _leaves(count: int) -> list[bytes]:
    return [leaf_hash(str(i).encode()) for i in range(count)]


def test_every_path_of_every_small_tree_is_rfc9162s() -> None:
    for size in range(1, 70):
        leaves = _leaves(size)
        paths = audit_paths(leaves, range(size))
        for index in range(size):
            assert paths[index] == inclusion_proof(leaves, index), (size, index)


@given(st.integers(min_value=1, max_value=3000), st.data())
def test_paths_lead_to_the_root(size: int, data: st.DataObject) -> None:
    leaves = _leaves(size)
    wanted = data.draw(st.lists(st.integers(min_value=0, max_value=size - 1), max_size=5))
    root = subtree_root(leaves)
    for index, path in audit_paths(leaves, wanted).items():
        assert root_from_inclusion(index, size, leaves[index], path) == root
