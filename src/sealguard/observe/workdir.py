"""The scratch folders probes run in: one per observation, removed after it, even after a crash.

Each is `$TMPDIR/sealguard-observe-<pid>-<random>`. A killed observer cannot remove its own, so
the next observation removes every such folder whose owner process is gone (the pid in its
name no longer runs). The evidence an observation keeps is copied into governance/runtime/
before its folder goes; nothing in a scratch folder is evidence.
"""

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIX = "sealguard-observe-"
_NAME = re.compile(re.escape(PREFIX) + r"(?P<pid>\d+)-")


@contextmanager
def probe_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (another user's too: not ours to judge it gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive, and not ours to judge
    return True


def remove_stale(temp: Path | None = None) -> list[Path]:
    """Remove the scratch folders of observers that died; returns them."""
    where = temp or Path(tempfile.gettempdir())
    removed = []
    try:
        candidates = list(where.iterdir())
    except OSError:
        return []
    for path in candidates:
        match = _NAME.match(path.name)
        if not match or not path.is_dir() or path.is_symlink():
            continue
        pid = int(match.group("pid"))
        if pid != os.getpid() and not alive(pid) and path.stat().st_uid == os.getuid():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
