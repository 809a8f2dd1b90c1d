"""Walking the sealed paths: which files, symlinks and special files are there now.

Directories are never followed through a symlink, and excluded folders are not entered.
"""

import os
import stat
from collections.abc import Container
from pathlib import Path

from sealguard.globs import PathSelector
from sealguard.seal.integrity import FileState, Kind


def _walk(
    root: Path, top: str, selector: PathSelector, known: Container[str], found: list[FileState]
) -> None:
    pending = [top]
    while pending:
        rel_dir = pending.pop()
        prefix = f"{rel_dir}/" if rel_dir else ""
        try:
            with os.scandir(root / rel_dir if rel_dir else root) as entries:
                listed = list(entries)
        except OSError as exc:
            found.append(FileState(rel_dir, "unreadable", error=exc.strerror or str(exc)))
            continue
        for entry in listed:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                if not selector.prunes(rel):
                    pending.append(rel)
            elif rel not in known and selector.selects(rel):
                if entry.is_file(follow_symlinks=False):
                    found.append(FileState(rel, "file"))
                else:
                    found.append(FileState(rel, "symlink" if entry.is_symlink() else "special"))


def scan(
    root: Path, selector: PathSelector, known: Container[str] = frozenset()
) -> list[FileState]:
    """Every non-directory path under `root` that the selector seals (kinds only, no hashes),
    except those in `known`: `verify` passes the sealed paths, as only new ones matter to it,
    and on 100,000 sealed files it then builds no state and tests no glob for any of them."""
    found: list[FileState] = []
    for top in selector.walk_roots():  # disjoint, so no path is found twice
        try:
            info = os.lstat(root / top) if top else None
        except FileNotFoundError:
            continue
        except OSError as exc:
            found.append(FileState(top, "unreadable", error=exc.strerror or str(exc)))
            continue
        if info is None or stat.S_ISDIR(info.st_mode):
            _walk(root, top, selector, known, found)
        elif top not in known and selector.selects(top):
            kind: Kind = (
                "symlink"
                if stat.S_ISLNK(info.st_mode)
                else ("file" if stat.S_ISREG(info.st_mode) else "special")
            )
            found.append(FileState(top, kind))
    return found
