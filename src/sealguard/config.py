"""`governance/sealguard.toml`: read once, validated into typed objects, or one clear error.

Every error names the file, the line and the key, and maps to exit 78.
"""

import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from sealguard.errors import ConfigError
from sealguard.globs import PathSelector, glob_problem, make_selector
from sealguard.tomlpos import line_of


class SealConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    paths: list[str]
    exclude: list[str] = []


class LedgerConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    key_file: str | None = None  # default: governance/runtime/keys/log_ed25519.pem
    witness: str | None = None  # a folder that receives a copy of every checkpoint


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    seal: SealConfig
    ledger: LedgerConfig = LedgerConfig()

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
    return config


def _check_globs(config: Config, file: Path, text: str) -> None:
    for key in ("paths", "exclude"):
        for index, pattern in enumerate(getattr(config.seal, key)):
            if problem := glob_problem(pattern):
                raise _error(file, text, ["seal", key, index], f'bad glob "{pattern}": {problem}')
    if not config.seal.paths:
        raise _error(file, text, ["seal", "paths"], "must name at least one glob")


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
