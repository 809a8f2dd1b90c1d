"""The dashboard's ASGI application: read-only routes over the governed project's log.

Only GET and HEAD are answered; any other method is 405 on every path, before anything else
runs. Loopback binds check the Host header (DNS rebinding); other binds need the token
(serve/auth.py). Every response says not to cache it, and the page's policy lets it load
nothing but its own origin's files.
"""

from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sealguard.errors import SealguardError
from sealguard.project import Project
from sealguard.serve import api, auth, page
from sealguard.serve.history import History
from sealguard.serve.metrics import metrics, registry
from sealguard.serve.reading import read
from sealguard.serve.report_page import Pages, report_html

READ_METHODS = frozenset({"GET", "HEAD"})
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": POLICY,
}


class ReadOnly:
    """ASGI middleware: 405 for every method but GET and HEAD, whatever the path; and the
    headers every response carries."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in READ_METHODS:
            refused = PlainTextResponse(
                "read only: GET and HEAD only\n", status_code=405, headers={"Allow": "GET, HEAD"}
            )
            await refused(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def openapi(request: Request) -> Response:
    return Response(OPENAPI, media_type="application/json")


async def unavailable(request: Request, exc: Exception) -> Response:
    """A project the server cannot read just now (a config gone bad before sealing)."""
    message = exc.message if isinstance(exc, SealguardError) else str(exc)
    return JSONResponse({"error": message}, status_code=503)


OPENAPI = (resources.files("sealguard.serve") / "openapi.json").read_bytes()
ROUTES = [
    Route("/", page.live),
    Route("/live.js", page.script),
    Route("/live.css", page.style),
    Route("/openapi.json", openapi),
    Route("/report.html", report_html),
    Route("/metrics", metrics),
    Route("/api/status", api.status),
    Route("/api/log", api.log),
    Route("/api/observations", api.observations),
    Route("/api/escalations", api.escalations),
    Route("/api/events/{event_id}", api.event),
]


def build(project: Project, bind: auth.Bind, token: str | None) -> Starlette:
    """The application for `project`, as served on `bind`."""
    middleware = [Middleware(ReadOnly)]
    if bind.loopback:
        hosts = sorted({*auth.LOOPBACK_HOSTS, bind.host})
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=hosts))
    if token is not None:
        middleware.append(Middleware(auth.TokenGate, token=token))
    elif bind.loopback:  # no token: this machine only, never through a proxy in front
        middleware.append(Middleware(auth.NotProxied))
    app = Starlette(
        routes=ROUTES,
        middleware=middleware,
        exception_handlers={SealguardError: unavailable},
    )
    history = History(project.log_file)
    app.state.project, app.state.history, app.state.pages = project, history, Pages()
    app.state.registry = registry(lambda: read(project, history))
    return app


def route_paths(app: Any) -> set[str]:
    """Every path the application routes (for the test that holds it to the document)."""
    return {route.path for route in app.routes}
