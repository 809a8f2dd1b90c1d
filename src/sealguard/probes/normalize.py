"""Normalisation: the scrubbers and redactions that make an unchanged product give one hash.

Declared per probe and sealed with the baseline. Built-in scrubbers (applied to every line of
text and every string in a JSON document): ANSI codes, the absolute project root, temp paths,
timestamps, durations, memory addresses and random seeds. JSON fields are redacted by path
(`testResults[].startTime`, or `**.duration` for any depth). `sort_tests` orders tests by name
(runners may report them in any order); `sort_lines` orders the lines of text output. Pure.

Text is read one line at a time, so memory stays bounded whatever the output's shape: a line of
LINE_LIMIT characters or more is not scrubbed but kept exactly as printed, read in pieces (a
regular expression over a line of hundreds of MiB would need it whole in memory, several times).
Such a line is compared byte for byte, so it can only make a difference show, never hide one.
"""

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from sealguard.config import SCRUBBERS, NormalizeRule

PLACEHOLDERS = {
    "ansi": "",
    "project_root": "<ROOT>",
    "temp_paths": "<TMP>",
    "timestamps": "<TIMESTAMP>",
    "durations": "<DURATION>",
    "memory_addresses": "0x<ADDR>",
    "random_seeds": r"\1\2<SEED>",
}
_PATTERNS = {
    "ansi": r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07",
    "timestamps": r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b",
    "durations": r"(?<![\w.])\d+(?:\.\d+)?\s?"
    r"(?:ms|µs|us|ns|s|sec|secs|seconds?|m|min|mins|minutes?)\b",
    "memory_addresses": r"\b0x[0-9a-fA-F]{6,16}\b",
    "random_seeds": r"(?i)(random[ _-]?seed|randomly-seed|seed)(\s*[=:]\s*|\s+)\d+",
}
DEFAULT_REDACTIONS = {
    "vitest-json": ("**.startTime", "**.endTime", "**.duration"),
    "junit-xml": ("**.time", "**.timestamp", "**.hostname"),
}
SORTED_BY_DEFAULT = ("vitest-json", "junit-xml")
LINE_LIMIT = 1 << 20  # characters; a line this long or longer is kept as printed
_ENDINGS = ("\n", "\r")


@dataclass(frozen=True)
class Normalizer:
    scrubbers: tuple[tuple[re.Pattern[str], str], ...]
    redactions: tuple[tuple[str, ...], ...]
    sort_tests: bool
    sort_lines: bool

    def text(self, value: str) -> str:
        if len(value) >= LINE_LIMIT:
            return value  # kept as printed, like a text line this long (see above)
        for pattern, replacement in self.scrubbers:
            value = pattern.sub(replacement, value)
        return value

    def pieces(self, source: TextIO, limit: int = LINE_LIMIT) -> Iterator[tuple[str, bool]]:
        """Each line of `source` scrubbed, as (line, True); a line of `limit` characters or more
        as it was printed, in pieces of at most `limit` characters, as (piece, False)."""
        long = False
        while piece := source.readline(limit):
            ended = piece.endswith(_ENDINGS)
            if long or (len(piece) == limit and not ended):
                long = not ended
                yield piece, False
            else:
                yield self.text(piece), True

    def document(self, value: Any) -> Any:
        """A JSON value redacted, scrubbed and, with sort_tests, with tests in name order.
        It works in place: `value` is changed (a report's copy would double its memory)."""
        for path in self.redactions:
            value = _redact(value, path)
        value = self._scrub(value)
        return _sort_tests(value) if self.sort_tests else value

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        value = _each(value, self._scrub)
        if isinstance(value, dict) and any(self.text(k) != k for k in value):
            return {self.text(k): v for k, v in value.items()}  # a key changed: rebuilt
        return value


def _path(text: str) -> tuple[str, ...]:
    return tuple(part for part in re.split(r"\.|(?=\[\])", text) if part)


def _redact(value: Any, path: tuple[str, ...]) -> Any:
    """`value` with what `path` selects redacted, changed in place."""
    if not path:
        return "<REDACTED>"
    head, rest = path[0], path[1:]
    if head == "**":
        value = _redact(value, rest)  # here
        return _each(value, lambda item: _redact(item, path))
    if head == "[]":
        return _each(value, lambda item: _redact(item, rest)) if isinstance(value, list) else value
    if isinstance(value, dict) and head in value:
        value[head] = _redact(value[head], rest)
    return value


def _each(value: Any, change: Callable[[Any], Any]) -> Any:
    """Every item of a list or value of an object replaced by `change` of it, in place."""
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = change(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = change(item)
    return value


def _test_key(item: Any) -> str:
    if isinstance(item, dict):
        for key in ("fullName", "name", "title", "nodeid", "classname"):
            if isinstance(item.get(key), str):
                return (
                    f"{item.get('classname', '')}::{item[key]}" if key == "name" else str(item[key])
                )
    return json.dumps(item, sort_keys=True)


def _sort_tests(value: Any) -> Any:
    """Lists of test-like objects (dicts with a name) sorted by name, at every depth, in place."""
    value = _each(value, _sort_tests)
    if isinstance(value, list) and value and all(isinstance(i, dict) for i in value):
        value.sort(key=_test_key)
    return value


def build(
    rules: list[str | NormalizeRule] | None, kind: str, root: str, temp_dirs: Iterable[str]
) -> Normalizer:
    """The normaliser a probe declares (or the defaults for its report kind)."""
    if rules is None:
        rules = [*SCRUBBERS, *(NormalizeRule(redact=p) for p in DEFAULT_REDACTIONS.get(kind, ()))]
        rules += ["sort_tests"] if kind in SORTED_BY_DEFAULT else []
    scrubbers: list[tuple[re.Pattern[str], str]] = []
    redactions: list[tuple[str, ...]] = []
    for rule in rules:
        if isinstance(rule, NormalizeRule):
            if rule.regex is not None:
                scrubbers.append((re.compile(rule.regex), rule.replacement))
            elif rule.redact is not None:
                redactions.append(_path(rule.redact))
        elif rule == "project_root":
            scrubbers.append((re.compile(re.escape(root)), PLACEHOLDERS[rule]))
        elif rule == "temp_paths":
            temps = sorted(
                {re.escape(t) for t in temp_dirs} | {"/tmp", "/var/tmp", "/var/folders"},
                key=len,
                reverse=True,
            )
            scrubbers.append(
                (re.compile(rf"(?:{'|'.join(temps)})(?:/[^\s'\":,)\]]*)?"), PLACEHOLDERS[rule])
            )
        elif rule in _PATTERNS:
            scrubbers.append((re.compile(_PATTERNS[rule]), PLACEHOLDERS[rule]))
    return Normalizer(
        tuple(scrubbers), tuple(redactions), "sort_tests" in rules, "sort_lines" in rules
    )


def describe(rules: list[str | NormalizeRule] | None, kind: str) -> list[Any]:
    """The effective rules as plain data, sealed with the baseline."""
    if rules is None:
        defaults: list[Any] = [
            *SCRUBBERS,
            *({"redact": p} for p in DEFAULT_REDACTIONS.get(kind, ())),
        ]
        return defaults + (["sort_tests"] if kind in SORTED_BY_DEFAULT else [])
    return [
        r
        if isinstance(r, str)
        else {
            k: v
            for k, v in (("regex", r.regex), ("replacement", r.replacement), ("redact", r.redact))
            if v is not None
        }
        for r in rules
    ]
