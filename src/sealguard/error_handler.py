"""The one error boundary: expected errors print one line and exit with their code.

An unexpected error writes its traceback to a file and says where; Ctrl-C exits 130.
Library code never exits; only `guarded` turns outcomes into exit codes.
"""

import errno
import os
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from sealguard import output
from sealguard.errors import SealguardError
from sealguard.exitcodes import ExitCode

# a full disk, a quota, an I/O error, a read-only file system: storage failed, not sealguard
STORAGE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})


def _crash_file() -> Path:
    import tempfile  # only on a crash; kept off the start-up path

    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    fd, name = tempfile.mkstemp(prefix=f"sealguard-crash-{stamp}-", suffix=".log")
    os.close(fd)
    return Path(name)


def guarded(body: Callable[[], int | None]) -> int:
    """Run `body` and return the exit code it earned."""
    try:
        code = body()
    except SealguardError as exc:
        output.error(f"sealguard: {exc.message}")
        return int(exc.exit_code)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        hint = f" (see: {exc.ctx.command_path} --help)" if exc.ctx else ""
        output.error(f"sealguard: {exc.format_message()}{hint}")
        return int(ExitCode.USAGE)
    except click.ClickException as exc:
        output.error(f"sealguard: {exc.format_message()}")
        return int(ExitCode.USAGE)
    except (KeyboardInterrupt, click.exceptions.Abort):
        output.error("sealguard: interrupted")
        return int(ExitCode.INTERRUPTED)
    except OSError as exc:
        if exc.errno not in STORAGE_ERRORS:
            return _internal(exc)
        # a copy (shutil) names its source in `filename` and its target in `filename2`
        target = exc.filename2 or exc.filename
        where = f"{target}: " if target else ""
        output.error(f"sealguard: {where}{exc.strerror or exc}: cannot write; stopped, not retried")
        return int(ExitCode.IO)
    except Exception as exc:  # the boundary: anything unexpected is kept, not shown raw
        return _internal(exc)
    return int(code or 0)


def _internal(exc: Exception) -> int:
    """Keep the traceback in a file and say where, in one line."""
    try:
        crash = _crash_file()
        crash.write_text(traceback.format_exc(), encoding="utf-8")
        kept = f"traceback in {crash}"
    except OSError as why:  # a full disk: say so rather than fail inside the boundary
        kept = f"the traceback could not be kept: {why.strerror or why}"
    output.error(f"sealguard: internal error: {type(exc).__name__}: {exc} ({kept})")
    return int(ExitCode.INTERNAL)
