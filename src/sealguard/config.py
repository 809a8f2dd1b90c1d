"""`governance/sealguard.toml`: read once, validated into typed objects, or one clear error.

Every error names the file, the line and the key, and maps to exit 78.
"""

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

from sealguard.durations import parse_duration
from sealguard.errors import ConfigError
from sealguard.globs import PathSelector, glob_problem, make_selector
from sealguard.tomlpos import line_of


class SealConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    paths: list[str]
    exclude: list[str] = []


class LedgerConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    key_file: str | None = None  # default: governance/runtime/keys/log_ed25519.pem
    witness: str | None = None  # a folder that receives a copy of every checkpoint


ReportKind = Literal["vitest-json", "junit-xml", "pytest", "json", "text"]
SCRUBBERS = (
    "ansi",
    "project_root",
    "temp_paths",
    "timestamps",
    "durations",
    "memory_addresses",
    "random_seeds",
)
NORMALIZERS = (*SCRUBBERS, "sort_tests", "sort_lines")
_PROBE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class NormalizeRule(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A custom normaliser: a regex and its placeholder, or a JSON field to redact."""

    regex: str | None = None
    replacement: str = "<REDACTED>"
    redact: str | None = None  # a dotted path; `[]` walks a list: "testResults[].startTime"


class ProbeConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    name: str
    command: list[str] | str
    shell: bool = False
    report: ReportKind = "text"
    timeout: str = "10m"
    cwd: str = "."
    env: dict[str, str] = {}
    normalize: list[str | NormalizeRule] | None = None  # None: the defaults for the report kind
    expect_exit: int = 0
    version: list[str] | str | None = None  # a command that prints the tool's version

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout)


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    seal: SealConfig
    ledger: LedgerConfig = LedgerConfig()
    probe: list[ProbeConfig] = []

    def selector(self) -> PathSelector:
        return make_selector(self.seal.paths, self.seal.exclude)


_AT = re.compile(r"^(?P<what>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.DOTALL)
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<key>[^`]+)`")
_MISSING = re.compile(r"Object missing required field `(?P<key>[^`]+)`")
_EXPECTED = re.compile(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`")
_TOML_LINE = re.compile(r"\(at line (?P<line>\d+), column \d+\)")  # else "(at end of document)"
_TOML_TYPES = {
    "str": "a string",
    "array": "an array",
    "object": "a table",
    "int": "an integer",
    "bool": "a boolean",
    "float": "a float",
}


def _parse_path(text: str) -> list[str | int]:
    """`$.seal.paths[1]` -> ["seal", "paths", 1]."""
    parts: list[str | int] = []
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", text):
        parts.append(int(index) if index else name)
    return parts


def _dotted(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


def _error(file: Path, text: str, path: list[str | int], problem: str) -> ConfigError:
    line = line_of(text, tuple(path))
    return ConfigError(f"{file}:{line}: {_dotted(path)}: {problem}")


def _explain(message: str) -> tuple[list[str | int], str]:
    """Turn a msgspec validation message into (key path, readable problem)."""
    match = _AT.match(message)
    assert match is not None  # the pattern accepts any text
    what, path = match.group("what"), _parse_path(match.group("path") or "$")
    if unknown := _UNKNOWN.search(what):
        return [*path, unknown.group("key")], "unknown key"
    if missing := _MISSING.search(what):
        return [*path, missing.group("key")], "required key is missing"
    if expected := _EXPECTED.search(what):
        want = _TOML_TYPES.get(expected.group("want"), expected.group("want"))
        got = _TOML_TYPES.get(expected.group("got"), expected.group("got"))
        return path, f"expected {want}, got {got}"
    return path, what


def parse_config(text: str, file: Path) -> Config:
    """Validate TOML `text` (read from `file`, named in errors) into a Config."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = _TOML_LINE.search(str(exc))
        line = where.group("line") if where else str(max(len(text.splitlines()), 1))
        reason = _TOML_LINE.sub("", str(exc)).replace("(at end of document)", "").strip()
        raise ConfigError(f"{file}:{line}: invalid TOML: {reason}") from None
    try:
        config = msgspec.convert(data, Config, strict=True)
    except msgspec.ValidationError as exc:
        path, problem = _explain(str(exc))
        raise _error(file, text, path, problem) from None
    _check_globs(config, file, text)
    _check_probes(config, file, text)
    return config


def _check_globs(config: Config, file: Path, text: str) -> None:
    for key in ("paths", "exclude"):
        for index, pattern in enumerate(getattr(config.seal, key)):
            if problem := glob_problem(pattern):
                raise _error(file, text, ["seal", key, index], f'bad glob "{pattern}": {problem}')
    if not config.seal.paths:
        raise _error(file, text, ["seal", "paths"], "must name at least one glob")


def _probe_problem(probe: ProbeConfig, seen: set[str]) -> tuple[str, str] | None:
    """(key, problem) for the first thing wrong with one probe, or None."""
    if not _PROBE_NAME.fullmatch(probe.name):
        return "name", f'"{probe.name}" must be letters, digits, "_", "." or "-"'
    if probe.name in seen:
        return "name", f'"{probe.name}" names two probes'
    if not probe.command or (isinstance(probe.command, list) and not probe.command[0]):
        return "command", "is empty"
    if isinstance(probe.command, str) and not probe.shell:
        return "command", "a string command needs shell = true (or write it as an array)"
    try:
        if probe.timeout_seconds <= 0:
            return "timeout", "must be longer than 0s"
    except ValueError as exc:
        return "timeout", str(exc)
    if Path(probe.cwd).is_absolute() or ".." in Path(probe.cwd).parts:
        return "cwd", "must be a folder inside the project"
    return None


def _normalizer_problem(rule: str | NormalizeRule) -> str | None:
    if isinstance(rule, str):
        return (
            None
            if rule in NORMALIZERS
            else f'unknown normaliser "{rule}" (known: {", ".join(NORMALIZERS)})'
        )
    if (rule.regex is None) == (rule.redact is None):
        return "a custom normaliser needs exactly one of `regex` or `redact`"
    if rule.regex is not None:
        try:
            re.compile(rule.regex)
        except re.error as exc:
            return f"bad regex: {exc}"
    return None


def _check_probes(config: Config, file: Path, text: str) -> None:
    seen: set[str] = set()
    for index, probe in enumerate(config.probe):
        if found := _probe_problem(probe, seen):
            raise _error(file, text, ["probe", index, found[0]], found[1])
        seen.add(probe.name)
        for number, rule in enumerate(probe.normalize or []):
            if problem := _normalizer_problem(rule):
                raise _error(file, text, ["probe", index, "normalize", number], problem)


def error_at(file: Path, path: list[str | int], problem: str) -> ConfigError:
    """A ConfigError for a valid config that cannot be used, pointing at the key's line."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    return _error(file, text, path, problem)


def load_config(file: Path) -> Config:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file; run `sealguard init` to write one") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the config: {exc}") from None
    return parse_config(text, file)
