"""The command line: parse, call one library function, render what it returns.

Commands live in modules named after what they act on; importing them registers them.
"""

import gc

from sealguard.cli import (  # noqa: F401 (registers)
    build,
    decide,
    escalation,
    fleet,
    fleet_audit,
    guard,
    log,
    observation,
    report,
    review,
    runbook,
    schedule,
    serve,
    witness,
)
from sealguard.cli.root import cli


def main() -> None:
    try:
        cli.main()
    finally:
        # Left to itself, the interpreter's exit runs full collections over every object still
        # alive, only to free them as the process ends: up to a tenth of a second after a
        # `verify` of 100,000 files. Frozen, they are freed without it (atexit handlers, open
        # files and the rest of the exit are as before).
        gc.freeze()


__all__ = ["cli", "main"]
