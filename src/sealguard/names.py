"""File names as people, terminals and JSON read them: one reversible escaping.

A POSIX file name is any byte string without `/` and NUL. Inside sealguard a name is a `str`
decoded with `surrogateescape` (what `os.scandir` gives), so the bytes that are not UTF-8 are
lone surrogates: JSON, RFC 8785 and terminals cannot carry them. Wherever a name leaves as
data (a difference, an event, a JSON report, a line of text) it is written with `escape`:

* valid UTF-8 stays as it is, except the characters below;
* `\\` becomes `\\\\`, newline `\\n`, carriage return `\\r`, tab `\\t` (the first three are
  GNU sha256sum's own escapes, which the manifest writes);
* every other byte of a control character (C0, DEL, C1), of a bidi control or line separator,
  and every byte that is not UTF-8, becomes `\\xHH` (two uppercase hex digits).

The result is valid UTF-8 without control characters, and `unescape` gives back the exact bytes.
"""

import re

# What a terminal or a reader could be misled by: C0 and C1 controls, DEL, bidi controls,
# line and paragraph separators, and lone surrogates (bytes that were not UTF-8).
BEYOND_C0 = "\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"
UNSAFE = "\x00-\x1f" + BEYOND_C0
_UNSAFE_CHAR = re.compile(f"[{UNSAFE}]")
_NAME_UNSAFE = re.compile(f"[\\\\{UNSAFE}]")
_GNU_UNSAFE = re.compile("[\\\\\n\r]")
_SHORT = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_GNU_SHORT = {"\\": "\\\\", "\n": "\\n", "\r": "\\r"}
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|.|$)", re.DOTALL)
_LONG = {"\\": b"\\", "n": b"\n", "r": b"\r", "t": b"\t"}


def _bytes_of(char: str) -> bytes:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as surrogateescape holds it
        return bytes([code - 0xDC00])
    return char.encode("utf-8", "surrogatepass")


def _hex(char: str) -> str:
    return _SHORT.get(char) or "".join(f"\\x{b:02X}" for b in _bytes_of(char))


def escape(name: str | bytes) -> str:
    """`name` (bytes, or text holding undecodable bytes as surrogates) in its escaped form."""
    text = name.decode("utf-8", "surrogateescape") if isinstance(name, bytes) else name
    return _NAME_UNSAFE.sub(lambda m: _hex(m[0]), text)


def escape_gnu(name: str) -> str | None:
    """GNU sha256sum's escaping of a manifest file line's name, or None when it needs none.

    sha256sum escapes only `\\`, newline and carriage return; other bytes stay raw, as it
    writes and reads them."""
    if not _GNU_UNSAFE.search(name):
        return None
    return _GNU_UNSAFE.sub(lambda m: _GNU_SHORT[m[0]], name)


def _unescape_one(code: str, gnu: bool) -> bytes:
    if code in _LONG and not (gnu and code == "t"):
        return _LONG[code]
    if len(code) == 3 and not gnu:
        return bytes([int(code[1:], 16)])
    raise ValueError(f"bad escape '\\{code}' in a file name")


def unescape(text: str, gnu: bool = False) -> bytes:
    """The bytes `escape` (or, with `gnu`, `escape_gnu`) was given; ValueError on a bad escape."""
    out, end = [], 0
    for match in _ESCAPE.finditer(text):
        out.append(text[end : match.start()].encode("utf-8", "surrogateescape"))
        out.append(_unescape_one(match[1], gnu))
        end = match.end()
    out.append(text[end:].encode("utf-8", "surrogateescape"))
    return b"".join(out)


def unescape_name(text: str, gnu: bool = False) -> str:
    """`unescape`, as the text (with surrogateescape) that the rest of sealguard holds."""
    return unescape(text, gnu).decode("utf-8", "surrogateescape")


def terminal_safe(text: str, keep: str = "") -> str:
    """`text` with every unsafe character but those in `keep` written as `\\xHH` escapes.

    Not reversible (a backslash stays as it is): it is for showing text, such as a probe's
    output, on a terminal without letting it move the cursor, retitle, or write the clipboard."""
    return _UNSAFE_CHAR.sub(lambda m: m[0] if m[0] in keep else _hex(m[0]), text)
