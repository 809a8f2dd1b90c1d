"""The sealed tree compared with its manifest (INV-D-02): pure functions over facts.

The edges (hashing, scanning) observe the disk and hand in `FileState`s; nothing here touches
a file. A `FileState` holds a name as the file system gave it (undecodable bytes as surrogates);
a `Difference` is what leaves for reports, events and the log, so it holds the name escaped
(`names.escape`): valid UTF-8, one line, no control character, reversible with `names.unescape`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import msgspec

from sealguard.names import escape
from sealguard.seal.manifest import Entry

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
    """One violation; `path` is escaped (`names.escape`), as every reader may show it."""

    change: Change
    path: str
    detail: str
    invariant: str = "INV-D-02"


def _quoted(target: str) -> str:
    return f"'{escape(target)}'"


def _describe(state: FileState) -> str:
    if state.kind == "symlink":
        return f"a symlink to {_quoted(state.target)}"
    return {"file": "a file", "directory": "a directory", "special": "a special file"}.get(
        state.kind, state.kind
    )


def _change(expected: Entry, actual: FileState) -> tuple[Change, str] | None:
    if actual.kind == "missing":
        why = f" ({actual.error})" if actual.error else ""
        return "removed", f"sealed {expected.kind} is gone{why}"
    if actual.kind == "unreadable":
        return "unreadable", f"cannot be read: {actual.error}"
    if actual.kind != expected.kind:
        was = "a file" if expected.kind == "file" else f"a symlink to {_quoted(expected.target)}"
        return "modified", f"was {was}, now {_describe(actual)}"
    if expected.kind == "symlink":
        if actual.target != expected.target:
            old, new = _quoted(expected.target), _quoted(actual.target)
            return "modified", f"symlink retargeted: {old} -> {new}"
        return None
    changes = []
    if actual.sha256 != expected.sha256:
        changes.append(f"content changed (sha256 {expected.sha256[:12]}… -> {actual.sha256[:12]}…)")
    if actual.mode != expected.mode:
        changes.append(f"mode changed {expected.mode:04o} -> {actual.mode:04o}")
    return ("modified", "; ".join(changes)) if changes else None


def compare_entry(expected: Entry, actual: FileState) -> Difference | None:
    """The difference between a sealed entry and what is at its path now, if any."""
    found = _change(expected, actual)
    return Difference(found[0], escape(expected.path), found[1]) if found else None


def find_added(sealed: Iterable[str], present: Iterable[FileState]) -> list[Difference]:
    """Paths under the sealed globs now that the manifest lacks."""
    known = set(sealed)
    return [
        Difference("added", escape(state.path), f"new {_describe(state)} under the sealed paths")
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
