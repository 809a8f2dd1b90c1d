"""The command line: parse, call one library function, render what it returns.

Commands live in modules named after what they act on; importing them registers them.
"""

import sealguard.cli.runbook  # noqa: F401 (registers)
from sealguard.cli import build, escalation, log, observation, witness  # noqa: F401 (registers)
from sealguard.cli.root import cli


def main() -> None:
    cli.main()


__all__ = ["cli", "main"]
