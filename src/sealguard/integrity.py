"""The sealed tree compared with its manifest (INV-D-02): pure functions over facts.

The edges (hashing, scanning) observe the disk and hand in `FileState`s; nothing here touches
a file.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import msgspec

from sealguard.manifest import Entry

Kind = Literal["file", "symlink", "directory", "special", "missing", "unreadable"]
Change = Literal["modified", "added", "removed", "unreadable"]
CHANGES: tuple[Change, ...] = ("modified", "added", "removed", "unreadable")


class FileState(msgspec.Struct, frozen=True, gc=False):
    """What is at one relative path now."""

    path: str
    kind: Kind
    sha256: str = ""
    mode: int = 0
    size: int = 0
    target: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class Difference:
    change: Change
    path: str
    detail: str
    invariant: str = "INV-D-02"


def _describe(state: FileState) -> str:
    if state.kind == "symlink":
        return f"a symlink to {state.target!r}"
    return {"file": "a file", "directory": "a directory", "special": "a special file"}.get(
        state.kind, state.kind
    )


def compare_entry(expected: Entry, actual: FileState) -> Difference | None:
    """The difference between a sealed entry and what is at its path now, if any."""
    path = expected.path
    if actual.kind == "missing":
        why = f" ({actual.error})" if actual.error else ""
        return Difference("removed", path, f"sealed {expected.kind} is gone{why}")
    if actual.kind == "unreadable":
        return Difference("unreadable", path, f"cannot be read: {actual.error}")
    if actual.kind != expected.kind:
        was = "a file" if expected.kind == "file" else f"a symlink to {expected.target!r}"
        return Difference("modified", path, f"was {was}, now {_describe(actual)}")
    if expected.kind == "symlink":
        if actual.target != expected.target:
            return Difference(
                "modified", path, f"symlink retargeted: {expected.target!r} -> {actual.target!r}"
            )
        return None
    changes = []
    if actual.sha256 != expected.sha256:
        changes.append(f"content changed (sha256 {expected.sha256[:12]}… -> {actual.sha256[:12]}…)")
    if actual.mode != expected.mode:
        changes.append(f"mode changed {expected.mode:04o} -> {actual.mode:04o}")
    return Difference("modified", path, "; ".join(changes)) if changes else None


def find_added(sealed: Iterable[str], present: Iterable[FileState]) -> list[Difference]:
    """Paths under the sealed globs now that the manifest lacks."""
    known = set(sealed)
    return [
        Difference("added", state.path, f"new {_describe(state)} under the sealed paths")
        for state in present
        if state.path not in known
    ]


def group_by_change(differences: Iterable[Difference]) -> dict[Change, list[Difference]]:
    grouped: dict[Change, list[Difference]] = {change: [] for change in CHANGES}
    for difference in differences:
        grouped[difference.change].append(difference)
    for items in grouped.values():
        items.sort(key=lambda d: d.path)
    return grouped
