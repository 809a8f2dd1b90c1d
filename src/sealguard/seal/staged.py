"""What a commit would hold: the staged changes under the project root, read from git's index
(the edge of the pre-commit guard: it runs git, and reads the staged blobs, never the tree).

git runs in the project root with the environment the hook was given, so a `git commit -a` or
`git commit PATH` (which stage into a temporary index named by GIT_INDEX_FILE) is read as it
will be committed. Renames are read as a deletion and an addition: both paths are checked.

A file is hashed as a checkout of the commit would write it, not as its blob: the baseline
hashed the working tree, and git's attributes (`eol`, `ident`, `working-tree-encoding`, clean
and smudge filters such as git-lfs) make the two differ. `git checkout-index` writes it into a
temporary folder with the attributes the index holds (the commit's). A staged change of a
.gitattributes changes what every checkout writes below its folder without touching a blob:
every sealed file there is read again, as that commit would check it out.
"""

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sealguard.errors import UsageError
from sealguard.fsio import sha256_of
from sealguard.proc import CommandNotFound, run
from sealguard.seal.guard import Change, Staged

_STATUS: dict[str, Change] = {"A": "added", "M": "modified", "T": "modified", "D": "deleted"}
_SYMLINK, _EXECUTABLE, _GITLINK = "120000", "100755", "160000"
_ATTRIBUTES = ".gitattributes"
_BATCH = 500
_REWRITTEN = "written differently on checkout (a staged .gitattributes applies to it)"
NOT_A_REPOSITORY = "not a git repository: {root} (run it from the repository's hook, or --project)"


@dataclass(frozen=True)
class _Diff:
    """One staged change, as `git diff --raw` says it (path relative to the repository's top)."""

    path: str
    change: Change
    old_mode: str
    new_mode: str
    old_blob: str
    new_blob: str

    def how(self) -> str:
        """The change in words, naming a change of kind or of the executable bit."""
        if self.change != "modified":
            return self.change
        if self.new_mode == _SYMLINK and self.old_mode != _SYMLINK:
            return "replaced by a symlink"
        if self.old_mode == _SYMLINK and self.new_mode != _SYMLINK:
            return "a symlink replaced by a file"
        if self.old_mode != self.new_mode and _GITLINK not in (self.old_mode, self.new_mode):
            mode = "made executable" if self.new_mode == _EXECUTABLE else "no longer executable"
            return mode if self.old_blob == self.new_blob else f"modified and {mode}"
        return "modified"


def _git(root: Path, *args: str) -> bytes:
    try:
        done = run(["git", "--literal-pathspecs", *args], cwd=root, timeout=120)
    except CommandNotFound:
        raise UsageError("git: command not found; `sealguard guard` reads git's index") from None
    if done.code != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        if any("not a git repository" in line for line in said):
            raise UsageError(NOT_A_REPOSITORY.format(root=root))
        raise UsageError(f"git {args[0]} failed in {root}: {said[-1] if said else done.code}")
    return done.stdout


def _prefix(root: Path) -> str:
    """The project root's path from the top of its repository ("" or ending in "/")."""
    return _git(root, "rev-parse", "--show-prefix").decode("utf-8", "surrogateescape").strip()


def _diffs(root: Path) -> list[_Diff]:
    """Every staged change of the repository (paths from its top: a .gitattributes above the
    project root applies to it too)."""
    out = _git(
        root, "diff", "--cached", "--raw", "--no-abbrev", "--no-renames", "--no-relative", "-z"
    )
    fields = out.decode("utf-8", "surrogateescape").split("\0")[:-1]
    diffs = []
    for meta, path in zip(fields[::2], fields[1::2], strict=True):
        old_mode, new_mode, old_blob, new_blob, status = meta.lstrip(":").split()
        change = _STATUS.get(status[:1], "modified")
        diffs.append(_Diff(path, change, old_mode, new_mode, old_blob, new_blob))
    return diffs


def _scopes(diffs: list[_Diff], prefix: str) -> list[str]:
    """The folders (relative to the project root, "" for all of it) below which a staged
    change of a .gitattributes changes what a checkout writes."""
    scopes = []
    for diff in diffs:
        path = PurePosixPath(diff.path)
        if path.name != _ATTRIBUTES:
            continue
        folder = "" if str(path.parent) == "." else f"{path.parent}/"
        if prefix.startswith(folder):
            scopes.append("")
        elif folder.startswith(prefix):
            scopes.append(folder[len(prefix) :])
    return scopes


def _batches(paths: list[str]) -> list[list[str]]:
    """`paths` in slices short enough for one command line (a commit may touch many)."""
    return [paths[i : i + _BATCH] for i in range(0, len(paths), _BATCH)] or [[]]


def _index(root: Path, pathspecs: list[str]) -> dict[str, tuple[str, str]]:
    """path -> (mode, blob id) in the index, for the paths under the pathspecs (relative to
    the root; none: everything under it)."""
    found = {}
    for batch in _batches(pathspecs):
        out = _git(root, "ls-files", "--stage", "-z", "--", *batch)
        for record in out.decode("utf-8", "surrogateescape").split("\0")[:-1]:
            meta, _, path = record.partition("\t")
            mode, blob, _stage = meta.split()
            found[path] = (mode, blob)
    return found


def _checked_out(root: Path, prefix: str, paths: list[str]) -> dict[str, str]:
    """path -> SHA-256 of the file as a checkout of the index would write it."""
    if not paths:
        return {}
    with tempfile.TemporaryDirectory(prefix="sealguard-guard-") as folder:
        for batch in _batches(paths):
            _git(root, "checkout-index", "-f", f"--prefix={folder}/", "--", *batch)
        return {p: sha256_of(Path(folder) / f"{prefix}{p}") for p in paths}


def _blob(root: Path, blob: str) -> bytes:
    return _git(root, "cat-file", "blob", blob)


def staged(root: Path, sealed: Callable[[str], bool]) -> list[Staged]:
    """The staged changes under `root` of the paths `sealed` selects (only those are read),
    and the sealed files a staged .gitattributes makes a checkout write differently."""
    prefix = _prefix(root)
    diffs = _diffs(root)
    changed = {
        d.path[len(prefix) :]: d
        for d in diffs
        if d.path.startswith(prefix) and sealed(d.path[len(prefix) :])
    }
    scopes = _scopes(diffs, prefix)
    kept = [path for path, d in changed.items() if d.change != "deleted"]
    index = _index(root, kept) if kept else {}
    if scopes:  # one scope "" is the whole project: no pathspec at all
        wider = _index(root, [] if "" in scopes else scopes)
        index |= {path: entry for path, entry in wider.items() if sealed(path)}
    files = [p for p, (mode, _blob_id) in index.items() if mode not in (_SYMLINK, _GITLINK)]
    digests = _checked_out(root, prefix, files)
    found = [Staged(path, "deleted") for path, d in changed.items() if d.change == "deleted"]
    for path, (mode, blob) in index.items():
        diff = changed.get(path)
        change, how = (diff.change, diff.how()) if diff else ("modified", _REWRITTEN)
        if mode == _GITLINK:  # a submodule's commit: no content a baseline could hold
            found.append(Staged(path, change, f"gitlink {blob}", how=how))
        elif mode == _SYMLINK:
            target = _blob(root, blob).decode("utf-8", "surrogateescape")
            found.append(Staged(path, change, symlink=target, how=how))
        else:
            found.append(Staged(path, change, digests[path], mode == _EXECUTABLE, how=how))
    return found
