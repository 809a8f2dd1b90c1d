"""Writing the report: the HTML page, or a PDF printed from it by a headless chromium."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sealguard import proc
from sealguard.errors import EvidenceWriteError, SealguardError
from sealguard.exitcodes import ExitCode
from sealguard.fsio import write_atomic

# the flags tests/browser.py starts chromium with: no sandbox (containers), no GPU, and none
# of its own network traffic (updates, sync), so printing a page stays offline
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--no-pdf-header-footer",
)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PDF_SECONDS = 300
SOCKET_ROOM = 50  # characters of $TMPDIR left to chromium's socket folder and name


class PrintError(SealguardError):
    """--pdf without a chromium that prints: as a channel that cannot deliver (69)."""

    exit_code = ExitCode.UNAVAILABLE


def chromium() -> str | None:
    """The chromium to print with: $SEALGUARD_CHROMIUM, else the first on PATH."""
    named = os.environ.get("SEALGUARD_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def write_page(html: str, target: Path, pdf: bool) -> None:
    if not pdf:
        _write(target, html.encode("utf-8"))
        return
    browser = chromium()
    if browser is None:
        raise PrintError(
            "--pdf needs a headless chromium and none is installed (apt-get install chromium, "
            "or set SEALGUARD_CHROMIUM); write the HTML page with -o FILE.html and print it"
        )
    with tempfile.TemporaryDirectory(prefix="sealguard-report-") as scratch:
        page = Path(scratch) / "report.html"
        page.write_text(html, encoding="utf-8")
        printed = Path(scratch) / "report.pdf"
        _print(browser, page, printed, Path(scratch) / "profile")
        _write(target, printed.read_bytes())


def _socket_folder(scratch: Path) -> str:
    """Chromium puts a Unix socket in $TMPDIR, and aborts when the socket's path passes the
    108 bytes a Unix socket address holds: a deep $TMPDIR gives it /tmp instead."""
    return str(scratch) if len(str(scratch)) <= SOCKET_ROOM else "/tmp"


def _print(browser: str, page: Path, printed: Path, profile: Path) -> None:
    argv = [
        "env", f"TMPDIR={_socket_folder(page.parent)}", browser, *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}", f"--print-to-pdf={printed}", page.as_uri(),
    ]  # fmt: skip
    try:
        done = proc.run(argv, cwd=page.parent, timeout=PDF_SECONDS)
    except (OSError, subprocess.TimeoutExpired, proc.CommandNotFound) as exc:
        raise PrintError(f"--pdf: {browser} could not print the page ({exc})") from None
    if done.code != 0 or not printed.is_file():
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise PrintError(
            f"--pdf: {browser} exited {done.code} without a PDF"
            + (f" ({said[-1]})" if said else "")
        )


def _write(target: Path, data: bytes) -> None:
    try:
        write_atomic(target, data, durable=True)
    except OSError as exc:
        raise EvidenceWriteError(f"{target}: cannot write the report ({exc.strerror})") from None
