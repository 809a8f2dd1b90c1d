"""The log as a decision binds to it: one record's leaf hash, and the tree's root at a size."""

from dataclasses import dataclass
from pathlib import Path

from sealguard.errors import DataError, UsageError
from sealguard.ledger import note
from sealguard.ledger.layout import Ledger
from sealguard.ledger.lines import batches
from sealguard.ledger.merkle import leaf_hash, subtree_root


@dataclass(frozen=True)
class Leaves:
    """The leaf hash (RFC 9162) of every complete line of the log, in order."""

    hashes: tuple[bytes, ...]

    def root(self, size: int) -> bytes | None:
        """The tree root over the first `size` lines, or None when the log is shorter."""
        return subtree_root(self.hashes[:size]) if 0 <= size <= len(self.hashes) else None

    def leaf(self, seq: int) -> bytes | None:
        return self.hashes[seq] if 0 <= seq < len(self.hashes) else None


def leaves(log: Path) -> Leaves:
    found: list[bytes] = []
    for lines, _ in batches(log, []):
        found.extend(leaf_hash(line) for line in lines)
    return Leaves(tuple(found))


def latest_checkpoint(ledger: Ledger, missing: str = "no checkpoint yet") -> note.Checkpoint:
    try:
        return note.parse(ledger.checkpoint.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{ledger.checkpoint}: {missing}") from None
    except note.NoteError as exc:
        raise DataError(f"{ledger.checkpoint}: unreadable checkpoint: {exc}") from None
