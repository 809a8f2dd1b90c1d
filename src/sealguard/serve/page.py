"""The live page: a static shell (live.html, live.js, live.css, shipped with the package) that
holds no project data; its script fetches the auditor's report of the whole log
(/report.html: serve/report_page.py, drawn by report/html.py, the same views as `sealguard
report`) into the page, and again whenever the log changes.

It polls /api/log (one stat on the server) every two seconds rather than holding an event
stream open: a poll costs the server nothing between requests, survives a proxy's idle
timeout, and lets the server stop at once on SIGTERM, with no stream to wait for.
"""

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

_ASSETS = resources.files("sealguard.serve") / "static"
# the report's own styles are inline (a self-contained page): allowed here, scripts are not
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def _asset(name: str) -> bytes:
    return (_ASSETS / name).read_bytes()


HTML, SCRIPT, STYLE = _asset("live.html"), _asset("live.js"), _asset("live.css")


def live(request: Request) -> Response:
    return Response(
        HTML, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": POLICY}
    )


def script(request: Request) -> Response:
    return Response(SCRIPT, media_type="text/javascript; charset=utf-8")


def style(request: Request) -> Response:
    return Response(STYLE, media_type="text/css; charset=utf-8")
