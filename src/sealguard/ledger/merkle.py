"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification. Pure functions.

leaf = SHA-256(0x00 || line), node = SHA-256(0x01 || left || right); the root of an empty tree
is SHA-256 of nothing. A tree of n leaves splits at the largest power of two below n.
"""

import hashlib
from collections.abc import Callable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256


def leaf_hash(line: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + line).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class CompactRange:
    """The roots of the perfect subtrees that make up a tree of `size` leaves, left to right.

    Appending a leaf costs one hash on average; the root costs one hash per subtree.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != bin(size).count("1"):
            raise ValueError(
                f"a tree of {size} leaves has {bin(size).count('1')} subtrees, not {len(hashes)}"
            )

    def push(self, leaf: bytes) -> None:
        hashes, merged = self.hashes, self.size
        self.size = merged + 1
        while merged & 1:  # each trailing 1 bit of the old size is a subtree to merge with
            leaf = _sha256(b"\x01" + hashes.pop() + leaf).digest()
            merged >>= 1
        hashes.append(leaf)

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        root = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            root = node_hash(left, root)
        return root

    def copy(self) -> "CompactRange":
        return CompactRange(self.size, self.hashes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CompactRange) and (self.size, self.hashes) == (
            other.size,
            other.hashes,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable: equal by value, never a key


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_root(leaves: Sequence[bytes]) -> bytes:
    tree = CompactRange()
    for leaf in leaves:
        tree.push(leaf)
    return tree.root()


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, leaves): the audit path of one leaf."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is not in a tree of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), subtree_root(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), subtree_root(leaves[:k])]


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2: the root that `proof` leads to, or None when the proof is malformed."""
    if index >= size or index < 0:
        return None
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return result if sn == 0 else None


class Nodes:
    """Subtree roots a consistency proof from `base.size` leaves can draw on: the perfect subtrees
    that make up the first `base.size` leaves, and every leaf after them."""

    def __init__(self, base: CompactRange, leaves: Sequence[bytes]) -> None:
        self.base = base.size
        self.leaves = list(leaves)
        self.known: dict[tuple[int, int], bytes] = {}
        start = 0
        bits = reversed(range(base.size.bit_length()))
        widths = [1 << bit for bit in bits if base.size >> bit & 1]
        for width, digest in zip(widths, base.hashes, strict=True):
            self.known[(start, start + width)] = digest
            start += width

    @property
    def size(self) -> int:
        return self.base + len(self.leaves)

    def root(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]); a ValueError when these nodes cannot give it."""
        if (start, end) in self.known:
            return self.known[(start, end)]
        if start < self.base:
            raise ValueError(f"the subtree {start}..{end} is not among the known nodes")
        return subtree_root(self.leaves[start - self.base : end - self.base])


def consistency_proof(old: int, new: int, root: Callable[[int, int], bytes]) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(old, D[new]); `root(a, b)` gives MTH(D[a:b])."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new} leaves")
    return [] if old in (0, new) else _subproof(old, 0, new, True, root)


def _subproof(
    m: int, start: int, end: int, complete: bool, root: Callable[[int, int], bytes]
) -> list[bytes]:
    if m == end - start:
        return [] if complete else [root(start, end)]
    k = _split(end - start)
    if m <= k:
        return [*_subproof(m, start, start + k, complete, root), root(start + k, end)]
    return [*_subproof(m - k, start + k, end, False, root), root(start, start + k)]


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: True when `proof` shows the tree of `new` leaves extends that of `old`."""
    if old > new or old < 0:
        return False
    if old == 0:
        return not proof  # every tree extends the empty one
    if old == new:
        return not proof and old_root == new_root
    path = [old_root, *proof] if old & (old - 1) == 0 else list(proof)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(node, fr), node_hash(node, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
