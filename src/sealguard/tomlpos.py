"""Find the line of a key in TOML source, so config errors can name it.

tomllib keeps no positions; this scanner knows just enough TOML (table headers, arrays of
tables, `key =` lines) to point a person at the right line. It never decides validity.
"""

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


def _split_dotted(name: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in name.split("."))


def _sections(lines: list[str]) -> list[tuple[tuple[str | int, ...], int]]:
    """(table path, 1-based header line) for every table header; arrays get their index."""
    counts: dict[tuple[str, ...], int] = {}
    found: list[tuple[tuple[str | int, ...], int]] = [((), 0)]
    for number, line in enumerate(lines, start=1):
        match = _HEADER.match(line)
        if not match:
            continue
        name = _split_dotted(match.group(2))
        if match.group(1) == "[[":
            index = counts.get(name, 0)
            counts[name] = index + 1
            found.append(((*name, index), number))
        else:
            found.append((name, number))
    return found


def line_of(text: str, path: tuple[str | int, ...]) -> int:
    """The best 1-based line for `path` (keys and array indexes); 1 when nothing fits better."""
    lines = text.splitlines()
    sections = _sections(lines)
    best_line, best_len = 1, -1
    for section, header_line in sections:
        size = len(section)
        if size > len(path) or tuple(path[:size]) != section or size <= best_len:
            continue
        best_line, best_len = max(header_line, 1), size
        key = path[size] if size < len(path) else None
        if isinstance(key, str):
            key_line = _key_line(lines, header_line, key)
            if key_line:
                best_line = key_line
    return best_line


def _key_line(lines: list[str], header_line: int, key: str) -> int | None:
    for number in range(header_line + 1, len(lines) + 1):
        line = lines[number - 1]
        if _HEADER.match(line):
            return None
        match = _KEY.match(line)
        if match and _split_dotted(match.group(1))[0] == key:
            return number
    return None
