"""The pre-commit guard's rule: which staged changes touch sealed paths without cover. Pure.

A staged change of a sealed path is covered when a baseline that people authorised holds
exactly what the commit would hold there: the same content (SHA-256), the same kind (file or
symlink, and its target) and the same executable bit, or no entry at all for a deletion. The
baselines that cover are the one in force (put there by the seal or by a signed decision: a
commit that makes the tree what it is sealed as changes nothing sealed) and the planned change
a signed decision authorised and no observation installed yet (a `reseal` or `amend` of a
proposal, decided while OBSERVING). A proposal nobody decided covers nothing.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from sealguard.seal.manifest import Entry

Change = Literal["added", "modified", "deleted"]


@dataclass(frozen=True)
class Staged:
    """One path as the commit would hold it (None: deleted)."""

    path: str
    change: Change
    sha256: str | None = None
    executable: bool = False
    symlink: str | None = None  # the target, when the commit holds a symlink
    how: str = ""  # the change in words, when they say more than `change` (a mode, a kind)


@dataclass(frozen=True)
class Cover:
    """An authorised baseline: its name for people, and its entries by path."""

    name: str
    entries: Mapping[str, Entry]


@dataclass(frozen=True)
class Refusal:
    path: str
    change: Change
    why: str
    how: str = ""

    def line(self) -> str:
        return f"{self.path}: {self.how or self.change}, {self.why}"


def holds(entry: Entry | None, staged: Staged) -> bool:
    """Whether a baseline's entry (None: absent) is exactly what the commit holds there."""
    if staged.change == "deleted" or entry is None:
        return staged.change == "deleted" and entry is None
    if staged.symlink is not None:
        return entry.kind == "symlink" and entry.target == staged.symlink
    return (
        entry.kind == "file"
        and entry.sha256 == staged.sha256
        and bool(entry.mode & 0o111) == staged.executable
    )


def _why(covers: list[Cover], change: Change) -> str:
    if not covers:
        return "a sealed path: no baseline can be trusted to cover it"
    if change == "deleted":  # refused because every cover still holds it
        names = " and ".join(c.name for c in covers)
        return f"but {names} {'hold' if len(covers) > 1 else 'holds'} it"
    names = " nor ".join(c.name for c in covers)
    holds = f"neither {names} holds it" if len(covers) > 1 else f"{names} does not hold it"
    return f"a sealed path: {holds}"


def refusals(
    staged: Iterable[Staged], sealed: Callable[[str], bool], covers: list[Cover]
) -> list[Refusal]:
    """The staged changes of sealed paths that no cover holds, in path order."""
    return [
        Refusal(s.path, s.change, _why(covers, s.change), s.how)
        for s in sorted(staged, key=lambda s: s.path)
        if sealed(s.path) and not any(holds(c.entries.get(s.path), s) for c in covers)
    ]
