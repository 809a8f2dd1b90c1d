"""Running the dashboard: uvicorn on a socket bound here, stopped cleanly by a signal.

The socket is bound before uvicorn starts, so an address in use is one readable line (exit 69)
rather than uvicorn's own exit, and `--bind 127.0.0.1:0` can say which port it was given.
SIGTERM and SIGINT stop it gracefully (requests under way finish; a second SIGINT stops at
once); it then exits 143 or 130, as `sealguard watch` does (exitcodes.py).
"""

import contextlib
import signal
import socket
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn

from sealguard.errors import SealguardError
from sealguard.exitcodes import ExitCode
from sealguard.project import Project
from sealguard.serve.app import build
from sealguard.serve.auth import Bind

GRACE = 5  # seconds requests under way get after a stop signal
STOPPED: dict[int, ExitCode] = {
    signal.SIGTERM: ExitCode.TERMINATED,
    signal.SIGINT: ExitCode.INTERRUPTED,
}


class AddressError(SealguardError):
    exit_code = ExitCode.UNAVAILABLE


def listen(bind: Bind) -> socket.socket:
    family = socket.AF_INET6 if ":" in bind.host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every answer on a kept-alive connection waited 40 ms for a delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((bind.host, bind.port))
    except OSError as exc:
        sock.close()
        raise AddressError(f"cannot listen on {bind.url()}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class Server(uvicorn.Server):
    """uvicorn's server, with the stop signals handled by `serve` (uvicorn's own handlers
    raise the signal again once stopped, which would kill the process before it exits)."""

    stopped_by: int | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self, sig: int, frame: FrameType | None) -> None:
        self.force_exit = self.should_exit and sig == signal.SIGINT
        self.should_exit, self.stopped_by = True, self.stopped_by or sig


def serve(project: Project, bind: Bind, token: str | None, announce: Callable[[str], None]) -> int:
    """Serve `project` until a signal stops it; the exit code it earned."""
    sock = listen(bind)
    config = uvicorn.Config(
        build(project, bind, token),
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=GRACE,
    )
    server = Server(config)
    previous = {sig: signal.signal(sig, server.stop) for sig in STOPPED}
    try:
        announce(f"serving {bind.url(sock.getsockname()[1])} (read only) for {project.root}")
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    return (
        int(STOPPED.get(signal.Signals(server.stopped_by), ExitCode.OK)) if server.stopped_by else 0
    )
