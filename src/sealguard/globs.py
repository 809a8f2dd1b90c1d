"""Sealed-path globs: their syntax check and one compiled matcher.

Globs are relative to the project root and always use `/`. `*` and `?` stay inside one path
segment, `**` as a whole segment matches any number of segments, `[abc]` is a class, `{a,b}`
either; a backslash makes the next character literal. Dot files match like any other file (a
hidden file in a sealed tree is still sealed).
"""

import re
from collections.abc import Iterable

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


def _is_literal(text: str) -> bool:
    return not MAGIC.intersection(text)


class _Matcher:
    """Matches relative paths against globs, with exact shortcuts for the common shapes.

    `P/**` is a prefix test, `**/N/**` a segment test and a literal path an equality; the
    rest goes to one regular expression built by wcmatch. The shortcuts give the same answers
    as wcmatch on real paths (no empty, `.` or `..` segments), only faster.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.exact: set[str] = set()
        self.prefixes: list[str] = []
        self.segments: list[str] = []
        others: list[str] = []
        for pattern in patterns:
            head, tail = pattern[:-3], pattern[-3:]
            if _is_literal(pattern):
                self.exact.add(pattern)
            elif tail == "/**" and _is_literal(head):
                self.prefixes.append(head + "/")
            elif (
                tail == "/**"
                and head.startswith("**/")
                and _is_literal(head[3:])
                and "/" not in head[3:]
            ):
                self.segments.append(f"/{head[3:]}/")
            else:
                others.append(pattern)
        self.prefix_tuple = tuple(self.prefixes)
        regexes = wcglob.translate(others, flags=_FLAGS)[0] if others else []
        self.regex = re.compile("|".join(regexes)) if regexes else None

    def match(self, path: str) -> bool:
        if path in self.exact or path.startswith(self.prefix_tuple):
            return True
        if self.segments:
            slashed = f"/{path}"
            if any(segment in slashed for segment in self.segments):
                return True
        return self.regex is not None and self.regex.match(path) is not None


class PathSelector:
    """Which relative paths are sealed: matched by an include glob and by no exclude glob."""

    def __init__(self, include: Iterable[str], exclude: Iterable[str]) -> None:
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self._include = _Matcher(self.include)
        self._exclude = _Matcher(self.exclude)
        self._dirs = _Matcher(p[: -len("/**")] for p in self.exclude if p.endswith("/**"))

    def selects(self, rel_path: str) -> bool:
        if rel_path == GOVERNANCE_DIR or rel_path.startswith(GOVERNANCE_DIR + "/"):
            return False
        return self._include.match(rel_path) and not self._exclude.match(rel_path)

    def prunes(self, rel_dir: str) -> bool:
        """True when nothing below directory `rel_dir` can be selected."""
        return rel_dir == GOVERNANCE_DIR or self._dirs.match(rel_dir)

    def walk_roots(self) -> list[str]:
        """The smallest set of relative directories or files whose walk covers every include."""
        roots = sorted({literal_prefix(p) for p in self.include})
        kept: list[str] = []
        for root in roots:
            if not any(k in ("", root) or root.startswith(k + "/") for k in kept):
                kept.append(root)
        return kept


_SPECIAL = re.compile(r"([*?\[\]{}\\])")  # the syntax above; `-` or `!` outside `[]` is plain


def escape(path: str) -> str:
    """The plainest glob that matches exactly the literal `path`: a backslash before the
    characters that have a meaning in sealguard's globs, and only those (wcmatch's own escape
    also escapes `-`, `!`, `(`..., which a reader then takes for syntax). A name of blanks only
    gets a backslash first, so that it does not read as an empty glob."""
    escaped = _SPECIAL.sub(r"\\\1", path)
    return "\\" + escaped if escaped and not escaped.strip() else escaped


def make_selector(include: Iterable[str], exclude: Iterable[str]) -> PathSelector:
    return PathSelector(include, exclude)
