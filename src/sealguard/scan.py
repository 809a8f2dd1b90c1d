"""Walking the sealed paths: which files, symlinks and special files are there now.

Directories are never followed through a symlink, and excluded folders are not entered.
"""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from sealguard.globs import PathSelector
from sealguard.integrity import FileState, Kind


def _kind_of_entry(entry: os.DirEntry[str]) -> Kind:
    if entry.is_symlink():
        return "symlink"
    if entry.is_file(follow_symlinks=False):
        return "file"
    return "special"


def _walk(root: Path, top: str, selector: PathSelector) -> Iterator[FileState]:
    pending = [top]
    while pending:
        rel_dir = pending.pop()
        try:
            with os.scandir(root / rel_dir if rel_dir else root) as entries:
                listed = list(entries)
        except OSError as exc:
            yield FileState(rel_dir, "unreadable", error=exc.strerror or str(exc))
            continue
        for entry in listed:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if entry.is_dir(follow_symlinks=False):
                if not selector.prunes(rel):
                    pending.append(rel)
            elif selector.selects(rel):
                yield FileState(rel, _kind_of_entry(entry))


def scan(root: Path, selector: PathSelector) -> list[FileState]:
    """Every non-directory path under `root` that the selector seals (kinds only, no hashes)."""
    found: dict[str, FileState] = {}
    for top in selector.walk_roots():
        try:
            info = os.lstat(root / top) if top else None
        except FileNotFoundError:
            continue
        except OSError as exc:
            found[top] = FileState(top, "unreadable", error=exc.strerror or str(exc))
            continue
        if info is None or stat.S_ISDIR(info.st_mode):
            found.update((s.path, s) for s in _walk(root, top, selector))
        elif selector.selects(top):
            kind: Kind = (
                "symlink"
                if stat.S_ISLNK(info.st_mode)
                else ("file" if stat.S_ISREG(info.st_mode) else "special")
            )
            found[top] = FileState(top, kind)
    return list(found.values())
