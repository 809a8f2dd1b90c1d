"""`sealguard serve` as people start it: the address, the token, the signals that stop it."""

import os
import signal
import socket
from pathlib import Path

import httpx
import pytest
import uvicorn

from sealguard.errors import UsageError
from sealguard.project import Project
from sealguard.serve.app import build
from sealguard.serve.auth import bearer_matches, load_token, parse_bind
from sealguard.serve.server import Server, listen

from .dashboards import dashboard, threaded
from .decision_projects import Team, governed, run

TOKEN = "s3cret-token-of-enough-length"


@pytest.fixture
def project(tmp_path: Path, team: Team) -> Project:
    made = governed(tmp_path, team)
    assert run(made, "observe").exit_code == 0
    return made


@pytest.mark.parametrize(
    ("text", "host", "port", "loopback"),
    [
        ("127.0.0.1:8470", "127.0.0.1", 8470, True),
        ("127.0.0.2:1", "127.0.0.2", 1, True),  # all of 127.0.0.0/8 is this machine
        ("localhost", "127.0.0.1", 8470, True),
        ("[::1]:9000", "::1", 9000, True),
        ("::1", "::1", 8470, True),
        ("0.0.0.0:8470", "0.0.0.0", 8470, False),
        ("[::]:80", "::", 80, False),
        ("192.168.1.10:8470", "192.168.1.10", 8470, False),
    ],
)
def test_bind_and_loopback(text: str, host: str, port: int, loopback: bool) -> None:
    bind = parse_bind(text)
    assert (bind.host, bind.port, bind.loopback) == (host, port, loopback)


@pytest.mark.parametrize("text", ["example.org:80", "127.0.0.1:http", "127.0.0.1:70000", "[::1"])
def test_bad_bind(text: str) -> None:
    with pytest.raises(UsageError, match=r"--bind"):
        parse_bind(text)


def test_bearer_comparison() -> None:
    assert bearer_matches(f"Bearer {TOKEN}", TOKEN)
    assert bearer_matches(f"bearer {TOKEN}", TOKEN)
    assert not bearer_matches(f"Bearer {TOKEN}x", TOKEN)
    assert not bearer_matches(f"Basic {TOKEN}", TOKEN)
    assert not bearer_matches(None, TOKEN)


def test_beyond_loopback_without_a_token_it_refuses_to_start(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEALGUARD_SERVE_TOKEN", raising=False)
    for bind in ("0.0.0.0:0", "[::]:0"):
        done = run(project, "serve", "--bind", bind)
        assert done.exit_code == 64, done.output
        assert done.stderr.count("\n") == 1
        assert (
            "is not a loopback address: give a token (--token-file FILE or $SEALGUARD_SERVE_TOKEN)"
            in done.stderr
        )


def test_a_short_or_unreadable_token_is_refused(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = tmp_path / "short"
    short.write_text("abc\n")
    done = run(project, "serve", "--bind", "0.0.0.0:0", "--token-file", str(short))
    assert done.exit_code == 64
    assert done.stderr == f"sealguard: {short}: the token must be at least 16 characters\n"
    missing = run(project, "serve", "--bind", "0.0.0.0:0", "--token-file", str(tmp_path / "nope"))
    assert missing.exit_code == 64 and "cannot read it" in missing.stderr
    monkeypatch.setenv("SEALGUARD_SERVE_TOKEN", "short")
    with pytest.raises(UsageError, match=r"^\$SEALGUARD_SERVE_TOKEN: the token must be at least"):
        load_token(None)
    monkeypatch.setenv("SEALGUARD_SERVE_TOKEN", f"  {TOKEN}\n")
    assert load_token(None) == TOKEN


def test_beyond_loopback_every_data_route_needs_the_token(project: Project, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with dashboard(project, "--bind", "0.0.0.0:0", "--token-file", str(token_file)) as served:
        port = served.url.rsplit(":", 1)[1].strip("/")
        url = f"http://127.0.0.1:{port}/"
        assert TOKEN not in Path(f"/proc/{served.process.pid}/cmdline").read_text()
        for path in ("api/status", "api/observations", "api/escalations", "api/log", "metrics"):
            bare = httpx.get(url + path)
            wrong = httpx.get(url + path, headers={"Authorization": f"Bearer {TOKEN}x"})
            right = httpx.get(url + path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert (bare.status_code, wrong.status_code, right.status_code) == (401, 401, 200), path
            assert bare.headers["www-authenticate"].startswith("Bearer")
        for path in ("", "live.js", "live.css", "openapi.json"):  # no project data in them
            assert httpx.get(url + path).status_code == 200, path
        assert (
            httpx.get(url + "api/status", headers={"Host": "anything.example"}).status_code == 401
        )
        assert served.stop() == 143


def test_the_token_from_the_environment(project: Project) -> None:
    env = {**os.environ, "SEALGUARD_SERVE_TOKEN": TOKEN}
    with dashboard(project, "--bind", "0.0.0.0:0", env=env) as served:
        url = f"http://127.0.0.1:{served.url.rsplit(':', 1)[1]}"
        assert httpx.get(url + "api/status").status_code == 401
        answer = httpx.get(url + "api/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.json()["state"] == "OBSERVING"
        assert served.stop() == 143


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_it_cleanly(project: Project, sig: int, code: int) -> None:
    with dashboard(project) as served:
        assert httpx.get(served.url + "api/status").json()["state"] == "OBSERVING"
        assert served.stop(sig) == code
        assert served.process.stderr is not None
        assert "Traceback" not in served.process.stderr.read()


def test_the_socket_says_it_is_tcp() -> None:
    """asyncio sets TCP_NODELAY only on a socket whose protocol is IPPROTO_TCP; without it each
    answer on a kept-alive connection waited 40 ms for a delayed ACK (benchmarks/serve.py)."""
    with listen(parse_bind("127.0.0.1:0")) as sock:
        assert sock.proto == socket.IPPROTO_TCP


def test_an_address_in_use_is_one_line(project: Project) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = run(project, "serve", "--bind", f"127.0.0.1:{port}")
    assert done.exit_code == 69
    assert done.stderr == (
        f"sealguard: cannot listen on http://127.0.0.1:{port}/: Address already in use\n"
    )


def test_the_stop_handler(project: Project) -> None:
    """What SIGTERM and SIGINT do to the running server (the subprocess tests above send real
    signals: in this process a signal would stop the test run itself if anything, such as the
    browser tests' Playwright loop, kept serve() from installing its handlers)."""
    app = build(project, parse_bind("127.0.0.1:0"), None)
    server = Server(uvicorn.Config(app))
    server.stop(signal.SIGTERM, None)
    assert (server.should_exit, server.force_exit, server.stopped_by) == (True, False, 15)
    server.stop(signal.SIGINT, None)  # a second Ctrl-C: stop at once; the first signal counts
    assert (server.force_exit, server.stopped_by) == (True, 15)


def test_the_token_gate(project: Project) -> None:
    with threaded(project, token=TOKEN) as url:
        right = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(url + "metrics").status_code == 401
        assert (
            httpx.get(url + "metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        )
        assert httpx.get(url + "metrics", headers=right).status_code == 200
        assert httpx.get(url + "report.html", headers=right).status_code == 200
        assert httpx.get(url + "live.js").status_code == 200
