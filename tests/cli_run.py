"""Running the CLI on input that might make it block (a FIFO where a file is expected)."""

import subprocess
import sys

from click.testing import CliRunner

from sealguard.cli import cli


def run_cli(*args: str, may_block: bool) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `sealguard ARGS`. When it may block: the console script in
    a subprocess, so that a hang fails the test instead of hanging it (the timeout is a guard,
    not a measure); else in-process, where coverage sees it."""
    if may_block:
        argv = [sys.executable, "-m", "sealguard", *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        return done.returncode, done.stdout, done.stderr
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr
