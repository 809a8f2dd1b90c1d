"""Who may reach the dashboard: the address it listens on, and the token beyond loopback.

On a loopback address (127.0.0.0/8, ::1) only this machine's users can connect, and the Host
header must name a loopback host, so a web page elsewhere cannot rebind a name of its own to
127.0.0.1 and read the log through the visitor's browser. Any other address (0.0.0.0, a LAN
address) needs a bearer token: from a file or from an environment variable, never from the
command line, where `ps` would show it to every user of the machine. The token guards every
route that shows the project's data; the page's shell and the OpenAPI document hold none.
"""

import hmac
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sealguard.errors import UsageError

TOKEN_ENV = "SEALGUARD_SERVE_TOKEN"
MIN_TOKEN = 16  # characters: a token guessable in a few tries protects nothing
DEFAULT_PORT = 8470
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
PUBLIC = frozenset({"/", "/live.js", "/live.css", "/openapi.json"})  # no project data in them


@dataclass(frozen=True)
class Bind:
    host: str  # an IP address, as the socket takes it
    port: int

    @property
    def loopback(self) -> bool:
        return ipaddress.ip_address(self.host).is_loopback

    def url(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port if port is None else port}/"


def parse_bind(text: str) -> Bind:
    """`HOST:PORT`, `HOST` (port 8470) or `[IPV6]:PORT`; HOST an IP address or `localhost`."""
    host, port = text, str(DEFAULT_PORT)
    if bracketed := re.fullmatch(r"\[([^\]]*)\](?::(.*))?", text):
        host, port = bracketed[1], bracketed[2] or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    host = "127.0.0.1" if host == "localhost" else host
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise UsageError(f"--bind {text}: give HOST:PORT with an IP address") from None
    if not 0 <= number <= 65535:
        raise UsageError(f"--bind {text}: the port must be 0..65535")
    return Bind(host, number)


def load_token(token_file: Path | None) -> str | None:
    """The token from `token_file` (surrounding whitespace dropped) or from $SEALGUARD_SERVE_TOKEN;
    None when neither gives one. A token shorter than 16 characters is refused."""
    if token_file is not None:
        try:
            token, where = token_file.read_text(encoding="utf-8").strip(), str(token_file)
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--token-file {token_file}: cannot read it ({exc})") from None
    else:
        token, where = os.environ.get(TOKEN_ENV, "").strip(), f"${TOKEN_ENV}"
        if not token:
            return None
    if len(token) < MIN_TOKEN:
        raise UsageError(f"{where}: the token must be at least {MIN_TOKEN} characters")
    return token


def require_token(bind: Bind, token: str | None) -> None:
    """Refuse to serve beyond loopback without a token."""
    if token is None and not bind.loopback:
        raise UsageError(
            f"--bind {bind.host} is not a loopback address: give a token "
            f"(--token-file FILE or ${TOKEN_ENV}), or bind 127.0.0.1"
        )


def bearer_matches(header: str | None, token: str) -> bool:
    """`Authorization: Bearer TOKEN`, compared in constant time."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


class TokenGate:
    """ASGI middleware: every route but the public ones needs the bearer token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC:
            await self.app(scope, receive, send)
            return
        if bearer_matches(Headers(scope=scope).get("authorization"), self.token):
            await self.app(scope, receive, send)
            return
        refused = JSONResponse(
            {"error": "a bearer token is required (Authorization: Bearer TOKEN)"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="sealguard"'},
        )
        await refused(scope, receive, send)


FORWARDED = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")


class NotProxied:
    """ASGI middleware for a loopback bind without a token: a request a proxy forwarded (it
    says so in Forwarded or X-Forwarded-*) came from beyond this machine, which a tokenless
    dashboard never serves. A proxy in front needs a token (`--token-file`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if headers is None or not any(name in headers for name in FORWARDED):
            await self.app(scope, receive, send)
            return
        refused = JSONResponse(
            {"error": "a forwarded request (a proxy in front): serve it with a token"},
            status_code=403,
        )
        await refused(scope, receive, send)
