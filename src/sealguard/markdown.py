"""Markdown that people read and edit: table cells, code spans and blocks, shipped templates. Pure.

Data in a document (a file name, a rule's detail, a person's name, a diff) must never change the
document's structure: a pipe would split a table row, a newline would end it (and could start a
heading), a run of backticks would close a code block. Each helper keeps its data inside the
place it was put, and shows control characters as `\\xHH` escapes, as the terminal output does.
Text already made by these helpers is `Markdown`, and is not escaped twice.
"""

import re
from collections.abc import Iterable, Sequence
from typing import Any

import jinja2

from sealguard.names import terminal_safe

_BACKTICKS = re.compile(r"`+")


class Markdown(str):
    """Text that is already Markdown: put into a table or a template as it is."""

    __slots__ = ()


_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("sealguard", "templates"),
    autoescape=False,  # Markdown, not HTML: the data is escaped by the helpers below
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_template(name: str, **context: Any) -> str:
    """A shipped template of sealguard/templates, rendered with `context`."""
    return _templates.get_template(name).render(**context)


def inline(text: str) -> Markdown:
    """`text` on one line (a newline is shown as `\\n`), for a paragraph or a list item."""
    return Markdown(terminal_safe(text))


def cell(text: str) -> Markdown:
    """`text` as one table cell: its lines joined with `<br>`, its pipes escaped."""
    if isinstance(text, Markdown):
        return text
    lines = text.splitlines() or [""]
    return Markdown("<br>".join(terminal_safe(line) for line in lines).replace("|", "\\|"))


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def code(text: str) -> Markdown:
    """`text` as a code span on one line, safe in a table cell."""
    body = cell(text)
    ticks = "`" * (_longest_backticks(body) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return Markdown(f"{ticks}{pad}{body}{pad}{ticks}")


def joined(items: Iterable[str], separator: str = "<br>") -> Markdown:
    """Several values in one cell or line, each escaped."""
    return Markdown(separator.join(cell(item) for item in items))


def fenced(text: str, info: str = "") -> Markdown:
    """`text` as a fenced code block whose fence no line of `text` can close."""
    body = terminal_safe(text, keep="\n\t")
    if body and not body.endswith("\n"):
        body += "\n"
    fence = "`" * max(3, _longest_backticks(body) + 1)
    return Markdown(f"{fence}{info}\n{body}{fence}")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> Markdown:
    """A GitHub-flavoured Markdown table; every cell escaped unless it is `Markdown`."""

    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell(value) for value in cells) + " |"

    lines = [row(headers), "|" + "---|" * len(headers), *(row(r) for r in rows)]
    return Markdown("\n".join(lines))
