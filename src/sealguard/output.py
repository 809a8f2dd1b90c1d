"""The one way sealguard writes to the user, so tests can capture everything.

What is shown may hold data sealguard does not control: file names, a probe's output, test
names, a channel's error text. Nothing of it reaches the terminal as a control: every control
character (C0 but newline and tab, DEL, C1), bidi control and line separator is written as a
`\\xHH` escape (`names.terminal_safe`); an error is one line, so it keeps no newline either.
JSON keeps its meaning: such characters are written as JSON `\\uXXXX` escapes, which decode
to the same data.
"""

import json
import re
import sys
from typing import Any

import click

from sealguard.names import BEYOND_C0, terminal_safe

# json.dumps escapes C0 itself; the rest of the unsafe set can only occur inside strings
_JSON_UNSAFE = re.compile(f"[{BEYOND_C0}]")


def write(text: str = "") -> None:
    click.echo(terminal_safe(text, keep="\n\t"))


def write_bytes(data: bytes) -> None:
    """Bytes exactly as given (a payload to sign elsewhere): no escaping, no added newline."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def error(text: str) -> None:
    click.echo(terminal_safe(text), err=True)


def json_text(data: Any) -> str:
    """`data` as indented JSON, valid UTF-8, with no character a terminal acts on."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def write_json(data: Any) -> None:
    click.echo(json_text(data))


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
