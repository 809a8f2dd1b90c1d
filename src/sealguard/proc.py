"""The one way sealguard runs a short subprocess and captures what it printed."""

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sealguard.errors import SealguardError


@dataclass(frozen=True)
class Completed:
    code: int
    stdout: bytes
    stderr: bytes


class CommandNotFound(SealguardError):
    pass


def run(argv: Sequence[str], cwd: Path, timeout: float = 60) -> Completed:
    """Run `argv` in `cwd`; raises CommandNotFound when the program is not installed."""
    try:
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise CommandNotFound(f"{argv[0]}: command not found") from None
    return Completed(done.returncode, done.stdout, done.stderr)
