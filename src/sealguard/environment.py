"""The environment an observation ran in, recorded with its evidence (an edge: it asks the OS)."""

import platform
import socket
import sys
from pathlib import Path
from typing import Any

from sealguard import __version__
from sealguard.proc import CommandNotFound, run


def _version(argv: list[str], cwd: Path) -> str | None:
    try:
        done = run(argv, cwd=cwd, timeout=20)
    except (CommandNotFound, OSError):
        return None
    text = done.stdout.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if done.code == 0 and text else None


def commit(root: Path) -> str | None:
    """`git describe --always --dirty` of the project, or None outside git."""
    return _version(["git", "describe", "--always", "--dirty"], root)


def describe(root: Path, tools: dict[str, str | None]) -> dict[str, Any]:
    return {
        "sealguard": __version__,
        "python": sys.version.split()[0],
        "node": _version(["node", "--version"], root),
        "os": platform.platform(),
        "host": socket.gethostname(),
        "commit": commit(root),
        "tools": tools,
    }
