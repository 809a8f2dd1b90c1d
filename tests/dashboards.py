"""`sealguard serve` for the tests: as a subprocess through the console script, or in this
process on a thread (a real uvicorn on loopback either way; the thread lets coverage see it)."""

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from sealguard.project import Project
from sealguard.serve.app import build
from sealguard.serve.auth import Bind
from sealguard.serve.server import listen

STARTED = 60  # seconds a server may take to say where it listens: a guard, not a measure


@dataclass
class Dashboard:
    url: str
    process: subprocess.Popen[str]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send `sig` and return the exit code."""
        self.process.send_signal(sig)
        return self.process.wait(timeout=STARTED)


@contextmanager
def dashboard(
    project: Project, *args: str, env: dict[str, str] | None = None
) -> Iterator[Dashboard]:
    """`sealguard serve --bind 127.0.0.1:0 ARGS` on `project`, until the block ends."""
    argv = [sys.executable, "-m", "sealguard", "--project", str(project.root), "serve"]
    argv += (
        [*args] if any(a.startswith("--bind") for a in args) else ["--bind", "127.0.0.1:0", *args]
    )
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or dict(os.environ)
    )
    guard = threading.Timer(STARTED, process.kill)
    guard.start()
    line = process.stdout.readline() if process.stdout else ""
    guard.cancel()
    assert line.startswith("serving http://"), (
        line,
        process.stderr.read() if process.stderr else "",
    )
    running = Dashboard(line.split()[1], process)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextmanager
def threaded(project: Project, token: str | None = None, host: str = "127.0.0.1") -> Iterator[str]:
    """The application served by uvicorn on a thread of this process; yields its base URL."""
    bind = Bind(host, 0)
    sock = listen(bind)
    server = uvicorn.Server(uvicorn.Config(build(project, bind, token), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            threading.Event().wait(0.01)
        yield bind.url(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=STARTED)
        sock.close()


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `root`, with its size and mtime: what a read-only server
    must not move (a folder's mtime moves when an entry is made or removed in it)."""
    return {
        str(path.relative_to(root)): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
    }
