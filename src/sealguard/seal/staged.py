"""What a commit would hold: the staged changes under the project root, read from git's index
(the edge of the pre-commit guard: it runs git, and reads the staged blobs, never the tree).

git runs in the project root with the environment the hook was given, so a `git commit -a` or
`git commit PATH` (which stage into a temporary index named by GIT_INDEX_FILE) is read as it
will be committed. Renames are read as a deletion and an addition: both paths are checked.
"""

import hashlib
from collections.abc import Callable
from pathlib import Path

from sealguard.errors import UsageError
from sealguard.proc import CommandNotFound, run
from sealguard.seal.guard import Change, Staged

_STATUS: dict[str, Change] = {"A": "added", "M": "modified", "T": "modified", "D": "deleted"}
_SYMLINK, _EXECUTABLE, _GITLINK = "120000", "100755", "160000"


def _git(root: Path, *args: str) -> bytes:
    try:
        done = run(["git", "--literal-pathspecs", *args], cwd=root, timeout=120)
    except CommandNotFound:
        raise UsageError("git: command not found; `sealguard guard` reads git's index") from None
    if done.code != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"git {args[0]} failed in {root}: {said[-1] if said else done.code}")
    return done.stdout


def _changes(root: Path) -> list[tuple[Change, str]]:
    """(change, path relative to the root) for every staged change under the root."""
    out = _git(root, "diff", "--cached", "--name-status", "--no-renames", "--relative", "-z")
    fields = out.decode("utf-8", "surrogateescape").split("\0")[:-1]
    return [
        (_STATUS.get(s[:1], "modified"), p) for s, p in zip(fields[::2], fields[1::2], strict=True)
    ]


def _index(root: Path, paths: list[str]) -> dict[str, tuple[str, str]]:
    """path -> (mode, blob id) in the index."""
    out = _git(root, "ls-files", "--stage", "-z", "--", *paths)
    found = {}
    for record in out.decode("utf-8", "surrogateescape").split("\0")[:-1]:
        meta, _, path = record.partition("\t")
        mode, blob, _stage = meta.split()
        found[path] = (mode, blob)
    return found


def _read(root: Path, path: str, change: Change, mode: str, blob: str) -> Staged:
    if mode == _GITLINK:  # a submodule's commit: no content a baseline could hold
        return Staged(path, change, f"gitlink {blob}")
    data = _git(root, "cat-file", "blob", blob)
    if mode == _SYMLINK:
        return Staged(path, change, symlink=data.decode("utf-8", "surrogateescape"))
    return Staged(path, change, hashlib.sha256(data).hexdigest(), mode == _EXECUTABLE)


def staged(root: Path, sealed: Callable[[str], bool]) -> list[Staged]:
    """The staged changes under `root` of the paths `sealed` selects (only those are read)."""
    changes = [(change, path) for change, path in _changes(root) if sealed(path)]
    kept = [path for change, path in changes if change != "deleted"]
    index = _index(root, kept) if kept else {}
    return [
        Staged(path, change) if change == "deleted" else _read(root, path, change, *index[path])
        for change, path in changes
    ]
