"""Inclusion proofs of several events against one checkpoint, from one pass over the log.

`log prove` makes one proof by hashing the whole log; a report needs one for each event that was
not STABLE. Here the log's leaves are hashed once and the tree's levels built once, for any
number of proofs. Each bundle is the one `log prove` writes (`sealguard-inclusion-proof/1`), so
`log check-proof` checks it offline.
"""

import base64
from collections.abc import Sequence
from hashlib import sha256
from typing import Any

from sealguard.ledger import note
from sealguard.ledger.canonical import DECODE_ERRORS, decode_line
from sealguard.ledger.layout import Ledger
from sealguard.ledger.lines import batches
from sealguard.ledger.merkle import leaf_hash
from sealguard.ledger.proof import FORMAT


def audit_paths(leaves: Sequence[bytes], wanted: Sequence[int]) -> dict[int, list[bytes]]:
    """RFC 9162 PATH(i, leaves) for every i in `wanted` (each within the tree).

    The tree is built level by level, a node's hash from each pair and a last odd node carried
    up as it is: the same nodes as RFC 9162's recursive split at the largest power of two (its
    left subtrees are perfect), in one pass per level. A leaf's path is then its
    sibling at each level where it has one, from the leaves up."""
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [
            sha256(b"\x01" + below[j] + below[j + 1]).digest() for j in range(0, len(below) - 1, 2)
        ]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    paths = {}
    for leaf in wanted:
        path, index = [], leaf
        for level in levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        paths[leaf] = path
    return paths


def bundles(
    ledger: Ledger, checkpoint: note.Checkpoint, seqs: Sequence[int], verifier_key: str
) -> dict[int, dict[str, Any]]:
    """The proof bundle of each seq the checkpoint covers (the others are left out)."""
    covered = {s for s in seqs if 0 <= s < checkpoint.size}
    if not covered:
        return {}
    leaves: list[bytes] = []
    lines: dict[int, bytes] = {}
    for batch, _ in batches(ledger.log, []):
        for line in batch:
            if len(leaves) in covered:
                lines[len(leaves)] = line
            leaves.append(leaf_hash(line))
        if len(leaves) >= checkpoint.size:
            break
    leaves = leaves[: checkpoint.size]
    if len(leaves) < checkpoint.size:
        return {}  # the log is shorter than its checkpoint: the verification says so
    paths = audit_paths(leaves, sorted(covered))
    return {
        seq: {
            "format": FORMAT,
            "seq": seq,
            "tree_size": checkpoint.size,
            "line_b64": base64.b64encode(lines[seq]).decode(),
            "event": _decoded(lines[seq]),
            "proof": [base64.b64encode(h).decode() for h in paths[seq]],
            "checkpoint": checkpoint.note(),
            "verifier_key": verifier_key,
        }
        for seq in sorted(covered)
    }


def _decoded(line: bytes) -> Any:
    try:
        return decode_line(line)
    except DECODE_ERRORS:
        return None
