"""Inclusion proofs of several events against one checkpoint, from one pass over the log.

`log prove` makes one proof by hashing the whole log; a report needs one for each event that was
not STABLE. Here the log's leaves are hashed once, and the tree is walked once: each subtree on
some event's path is computed a single time (O(n) for any number of proofs). Each bundle is the
one `log prove` writes (`sealguard-inclusion-proof/1`), so `log check-proof` checks it offline.
"""

import base64
from collections.abc import Sequence
from typing import Any

from sealguard.ledger import note
from sealguard.ledger.canonical import DECODE_ERRORS, decode_line
from sealguard.ledger.layout import Ledger
from sealguard.ledger.lines import batches
from sealguard.ledger.merkle import _split, leaf_hash, node_hash, subtree_root
from sealguard.ledger.proof import FORMAT


def audit_paths(leaves: Sequence[bytes], wanted: Sequence[int]) -> dict[int, list[bytes]]:
    """RFC 9162 PATH(i, leaves) for every i in `wanted` (each within the tree)."""
    paths: dict[int, list[bytes]] = {i: [] for i in wanted}
    _walk(leaves, 0, len(leaves), sorted(paths), paths)
    return paths


def _walk(
    leaves: Sequence[bytes], lo: int, hi: int, wanted: list[int], paths: dict[int, list[bytes]]
) -> bytes:
    """The root of leaves[lo:hi], appending to the paths of the wanted leaves in it."""
    if not wanted or hi - lo == 1:
        return subtree_root(leaves[lo:hi])
    middle = lo + _split(hi - lo)
    left = [i for i in wanted if i < middle]
    right = [i for i in wanted if i >= middle]
    left_root = _walk(leaves, lo, middle, left, paths)
    right_root = _walk(leaves, middle, hi, right, paths)
    for i in left:
        paths[i].append(right_root)
    for i in right:
        paths[i].append(left_root)
    return node_hash(left_root, right_root)


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
