"""The environment an observation ran in, recorded with its evidence (an edge: it asks the OS)."""

import platform
import socket
import sys
from pathlib import Path
from typing import Any

from sealguard import __version__
from sealguard.proc import first_line


def _version(argv: list[str], cwd: Path) -> str | None:
    return first_line(argv, cwd, timeout=20)


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
