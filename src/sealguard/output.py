"""The one way sealguard writes to the user, so tests can capture everything."""

import json
import sys
from typing import Any

import click


def write(text: str = "") -> None:
    click.echo(text)


def error(text: str) -> None:
    click.echo(text, err=True)


def write_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
