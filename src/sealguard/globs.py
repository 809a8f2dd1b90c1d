"""Sealed-path globs: their syntax check and one compiled matcher.

Globs are relative to the project root and always use `/`. `*` and `?` stay inside one path
segment, `**` as a whole segment matches any number of segments, `[abc]` is a class, `{a,b}`
either; a backslash makes the next character literal. Dot files match like any other file (a
hidden file in a sealed tree is still sealed).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from wcmatch import glob as wcglob

_FLAGS = wcglob.GLOBSTAR | wcglob.DOTGLOB | wcglob.FORCEUNIX | wcglob.BRACE
MAGIC = frozenset("*?[{\\")
# Everything sealguard itself writes lives here; it is never part of the sealed build.
GOVERNANCE_DIR = "governance"


def glob_problem(pattern: str) -> str | None:
    """Why `pattern` is not a usable sealed-path glob, or None when it is."""
    if not pattern.strip():
        return "is empty"
    if pattern.startswith("/"):
        return "must be relative to the project root, not absolute"
    segments = pattern.split("/")
    if ".." in segments:
        return "leaves the project root with '..'"
    if any(s != "**" and "**" in s for s in segments):
        return "uses '**' inside a segment; '**' must be a whole path segment such as 'src/**'"
    bare = re.sub(r"\\.", "", pattern)  # a backslash escapes the next character
    if bare.endswith("\\"):
        return "ends with a lone backslash"
    if bare.count("[") != bare.count("]") or bare.count("{") != bare.count("}"):
        return "has an unbalanced '[' or '{'"
    return None


def literal_prefix(pattern: str) -> str:
    """The leading segments of `pattern` that hold no wildcard ('' for the whole root).

    A pattern without any wildcard names one path, and its prefix is that path.
    """
    kept: list[str] = []
    for segment in pattern.split("/"):
        if segment in ("", "."):
            continue
        if MAGIC.intersection(segment):
            break
        kept.append(segment)
    return "/".join(kept)


@dataclass(frozen=True)
class PathSelector:
    """Which relative paths are sealed: matched by an include glob and by no exclude glob."""

    include: tuple[str, ...]
    exclude: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "_matcher",
            wcglob.compile(list(self.include), flags=_FLAGS, exclude=list(self.exclude) or None),
        )
        dir_excludes = [p[: -len("/**")] for p in self.exclude if p.endswith("/**")]
        object.__setattr__(
            self,
            "_dir_matcher",
            wcglob.compile(dir_excludes, flags=_FLAGS) if dir_excludes else None,
        )

    def selects(self, rel_path: str) -> bool:
        if rel_path == GOVERNANCE_DIR or rel_path.startswith(GOVERNANCE_DIR + "/"):
            return False
        return bool(self._matcher.match(rel_path))  # type: ignore[attr-defined]

    def prunes(self, rel_dir: str) -> bool:
        """True when nothing below directory `rel_dir` can be selected."""
        if rel_dir == GOVERNANCE_DIR:
            return True
        matcher = self._dir_matcher  # type: ignore[attr-defined]
        return matcher is not None and bool(matcher.match(rel_dir))

    def walk_roots(self) -> list[str]:
        """The smallest set of relative directories or files whose walk covers every include."""
        roots = sorted({literal_prefix(p) for p in self.include})
        kept: list[str] = []
        for root in roots:
            if not any(root == k or root.startswith(k + "/") or k == "" for k in kept):
                kept.append(root)
        return kept


def escape(path: str) -> str:
    """A glob that matches exactly the literal `path`."""
    return str(wcglob.escape(path))


def make_selector(include: Iterable[str], exclude: Iterable[str]) -> PathSelector:
    return PathSelector(tuple(include), tuple(exclude))
