"""Events as RFC 8785 canonical JSON, and the check that a line is exactly that.

Events hold no floats; an integer outside the range JSON numbers carry exactly (|n| < 2^53) is
written as a decimal string. Keys are ASCII. Writing uses the `rfc8785` package; checking a
whole log uses msgspec's sorted compact encoding, which gives the same bytes on that domain and
is fast enough for millions of lines (tests hold the two to agreement).
"""

import re
from collections.abc import Mapping
from typing import Any

import msgspec
import rfc8785

SAFE_INT = 2**53 - 1
_decoder = msgspec.json.Decoder()
# msgspec reports bad UTF-8 inside a string as UnicodeDecodeError, the rest as DecodeError;
# it recurses once per level of nesting, so a line nested too deeply is a RecursionError
DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def _no_float(text: str) -> Any:
    raise ValueError(f"float {text}")


_no_float_decoder = msgspec.json.Decoder(float_hook=_no_float)  # a float fails the fast path
_LONG_DIGITS = re.compile(rb"\d{16}")
_SURROGATE = re.compile("[\ud800-\udfff]")  # bytes that were not UTF-8 (surrogateescape)


class EventValueError(ValueError):
    """An event field cannot be written canonically (a float, a non-ASCII key, text that is
    not UTF-8)."""


def _safe(value: Any, where: str) -> Any:
    if isinstance(value, str):
        if not value.isascii() and _SURROGATE.search(value):
            raise EventValueError(
                f"{where}: text holds bytes that are not UTF-8 ({value!r}); "
                "a name from the disk must go through names.escape"
            )
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -SAFE_INT <= value <= SAFE_INT else str(value)
    if isinstance(value, float):
        raise EventValueError(f"{where}: floats are not allowed in events ({value!r})")
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str) or not key.isascii():
                raise EventValueError(f"{where}: keys must be ASCII strings ({key!r})")
        return {key: _safe(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise EventValueError(f"{where}: {type(value).__name__} is not a JSON value")


def encode_event(event: Mapping[str, Any]) -> bytes:
    """The canonical bytes of `event` (no trailing newline)."""
    return bytes(rfc8785.dumps(_safe(event, "event")))


def decode_line(line: bytes) -> Any:
    return _decoder.decode(line)


def canonical_problem(line: bytes) -> str | None:
    """Why `line` is not a canonical event line, or None when it is one."""
    try:
        return _problem(line)
    except RecursionError:  # decoding and encoding recurse once per level of nesting
        return "nested too deeply to read"


def _problem(line: bytes) -> str | None:
    try:
        value = _decoder.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return f"not JSON ({exc})"
    if not isinstance(value, dict):
        return "not a JSON object"
    try:
        expected = encode_event(value)
    except (EventValueError, rfc8785.CanonicalizationError) as exc:
        return f"not canonical: {exc}"
    if expected != line:
        return "not canonical RFC 8785 JSON (key order, spacing or escaping differs)"
    return None


def all_canonical(lines: list[bytes]) -> list[Any] | None:
    """The decoded objects when every line is canonical JSON, else None (then check line by line).

    One decode and one encode of the whole batch, in C; a float anywhere makes it fall back.
    """
    joined = b"[" + b",".join(lines) + b"]"
    try:
        values = _decoder.decode(joined)
        if (
            msgspec.json.encode(values, order="sorted") != joined
            or not all(isinstance(value, dict) for value in values)
            or (_may_stray(joined) and strays(values))
        ):
            return None
    except DECODE_ERRORS:
        return None
    return values  # type: ignore[no-any-return]


def _may_stray(joined: bytes) -> bool:
    """Whether the batch may hold what msgspec writes but `encode_event` refuses: a float (a dot),
    an integer beyond 2^53 (16 digits), a non-ASCII key (a byte beyond ASCII)."""
    return b"." in joined or not joined.isascii() or _LONG_DIGITS.search(joined) is not None


def strays(value: Any) -> bool:
    """A float, an integer beyond 2^53 or a non-ASCII key anywhere in `value`."""
    if isinstance(value, float):
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return not -SAFE_INT <= value <= SAFE_INT
    if isinstance(value, dict):
        return not all(key.isascii() for key in value) or any(map(strays, value.values()))
    if isinstance(value, list):
        return any(map(strays, value))
    return False
