"""The command line: parse, call one library function, render what it returns.

Commands live in modules named after what they act on; importing them registers them.
"""

from sealguard.cli import (  # noqa: F401 (registers)
    build,
    decide,
    escalation,
    log,
    observation,
    runbook,
    witness,
)
from sealguard.cli.root import cli


def main() -> None:
    cli.main()


__all__ = ["cli", "main"]
