"""The one way sealguard runs subprocesses: short ones captured, probes streamed to files."""

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
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


def first_line(argv: Sequence[str], cwd: Path, timeout: float) -> str | None:
    """The first line a command prints when it succeeds (a version, a commit), else None."""
    try:
        done = run(argv, cwd=cwd, timeout=timeout)
    except (CommandNotFound, OSError):
        return None
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    return lines[0].strip() if done.code == 0 and lines else None


@dataclass(frozen=True)
class StreamedRun:
    """A command whose output went straight to files (memory stays bounded)."""

    exit_code: int | None  # None when it was killed for its timeout or never started
    signal: int | None  # the signal that ended it, if one did
    timed_out: bool
    seconds: float
    not_started: str  # why it could not start ("" when it did)


def _stop_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the whole process group, then SIGKILL what is left after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_to_files(
    argv: Sequence[str] | str,
    cwd: Path,
    env: Mapping[str, str],
    outputs: tuple[Path, Path],
    *,
    timeout: float,
    shell: bool = False,
) -> StreamedRun:
    """Run once, stdout and stderr streamed to the two `outputs` files; on timeout the process
    group is stopped."""
    started = time.monotonic()
    with outputs[0].open("wb") as out, outputs[1].open("wb") as err:
        try:
            process = subprocess.Popen(
                argv, cwd=cwd, env=dict(env), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                shell=shell, start_new_session=True,
            )  # fmt: skip
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            err.write(
                f"sealguard: cannot start {argv if shell else argv[0]}: {exc.strerror}\n".encode()
            )
            return StreamedRun(
                None, None, False, time.monotonic() - started, exc.strerror or str(exc)
            )
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _stop_group(process, grace=5)
            return StreamedRun(None, None, True, time.monotonic() - started, "")
        except BaseException:
            _stop_group(process, grace=1)  # Ctrl-C: leave no probe behind
            raise
    seconds = time.monotonic() - started
    return StreamedRun(code if code >= 0 else None, -code if code < 0 else None, False, seconds, "")
