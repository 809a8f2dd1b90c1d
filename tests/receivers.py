"""Real servers on loopback for escalation tests: an HTTP receiver standing in for Slack,
PagerDuty and a webhook (validating their payloads), and an aiosmtpd SMTP server."""

import base64
import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PD_SEVERITIES = {"critical", "error", "warning", "info"}
PD_ACTIONS = {"trigger", "acknowledge", "resolve"}


def pagerduty_problems(body: Any) -> list[str]:
    """What PagerDuty's Events API v2 would refuse in `body` (required fields, lengths, enums)."""
    problems = []
    if not isinstance(body, dict):
        return ["body is not an object"]
    if not isinstance(body.get("routing_key"), str) or len(body["routing_key"]) != 32:
        problems.append("routing_key must be a 32-character string")
    if body.get("event_action") not in PD_ACTIONS:
        problems.append("event_action must be trigger, acknowledge or resolve")
    if not isinstance(body.get("dedup_key"), str) or not 0 < len(body["dedup_key"]) <= 255:
        problems.append("dedup_key must be 1 to 255 characters")
    payload = body.get("payload")
    if not isinstance(payload, dict):
        return [*problems, "payload is required"]
    if not isinstance(payload.get("summary"), str) or not 0 < len(payload["summary"]) <= 1024:
        problems.append("payload.summary must be 1 to 1024 characters")
    if not isinstance(payload.get("source"), str) or not payload["source"]:
        problems.append("payload.source is required")
    if payload.get("severity") not in PD_SEVERITIES:
        problems.append("payload.severity must be critical, error, warning or info")
    if "timestamp" in payload:
        try:
            datetime.datetime.fromisoformat(payload["timestamp"])
        except (TypeError, ValueError):
            problems.append("payload.timestamp must be ISO 8601")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        problems.append("payload.custom_details must be an object")
    return problems


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HttpReceiver:
    """Slack at /slack, PagerDuty at /pagerduty, a webhook at /hook."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(
        default_factory=dict
    )  # forced replies, in order, per path
    delay: float = 0.0
    incidents: set[str] = field(default_factory=set)  # PagerDuty dedup keys seen

    def start(self) -> "HttpReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(data)
                except ValueError:
                    body = None
                path = self.path.split("?")[0]
                receiver.requests.append(Received(path, dict(self.headers), body))
                time.sleep(receiver.delay)
                status, reply = receiver.reply(path, body)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(reply.encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def reply(self, path: str, body: Any) -> tuple[int, str]:
        forced = self.statuses.get(path)
        if forced:
            return forced.pop(0), "forced"
        if path == "/pagerduty":
            problems = pagerduty_problems(body)
            if problems:
                return 400, json.dumps({"status": "invalid event", "errors": problems})
            self.incidents.add(body["dedup_key"])
            return 202, json.dumps(
                {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}
            )
        if path == "/slack":
            ok = isinstance(body, dict) and isinstance(body.get("text"), str) and body["text"]
            return (200, "ok") if ok else (400, "invalid_payload")
        return 200, "{}"

    def bodies(self, path: str) -> list[Any]:
        return [r.body for r in self.requests if r.path == path]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            self.user,
            self.password,
        )
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def smtp_server(
    tls: Any = None, starttls: Any = None, auth: tuple[str, str] | None = None
) -> tuple[Controller, _Mailbox]:
    """An SMTP server on loopback: plain, implicit TLS (`tls` context) or STARTTLS, with AUTH."""
    mailbox = _Mailbox()
    options: dict[str, Any] = {}
    if starttls is not None:
        options.update(tls_context=starttls, require_starttls=True)
    if auth is not None:
        options.update(
            authenticator=_Authenticator(*auth),
            auth_require_tls=starttls is not None or tls is not None,
        )
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=tls,
        server_hostname="localhost",
        **options,
    )
    controller.start()
    return controller, mailbox


class EchoSmtp:
    """An SMTP handler that fails at one stage (`mode`), echoing the credentials it was given:
    the AUTH line as sent (base64), decoded, and URL-encoded."""

    def __init__(self) -> None:
        self.mode, self.mechanism, self.creds = "ok", "PLAIN", (b"", b"")
        self.echoes: list[str] = []
        self.port = 0

    def _echo(self, code: str) -> str:
        user, password = (c.decode() for c in self.creds)
        plain = base64.b64encode(b"\0" + self.creds[0] + b"\0" + self.creds[1]).decode()
        text = f"{code} you are {user}:{password} ({quote(password)}, {plain})"
        self.echoes.append(text)
        return text

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:  # fmt: skip
        session.host_name = hostname
        return [f"250-AUTH {self.mechanism}" if r.startswith("250-AUTH") else r for r in responses]

    async def handle_AUTH(self, server: Any, session: Any, envelope: Any, args: list[str]) -> str:
        if args[0] == "PLAIN":
            _, user, password = base64.b64decode(args[1]).split(b"\0")
        else:  # LOGIN: the user name comes with the command, the password after a challenge
            user, password = base64.b64decode(args[1]), await server.challenge_auth("Password:")
        self.creds = (user, password)
        if self.mode != "auth":
            return "235 2.7.0 Authentication successful"
        return self._echo(f"535 5.7.8 {args[0]} {args[1]} rejected:")

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:  # fmt: skip
        envelope.mail_from = address
        return self._echo("553 5.7.1 sender refused:") if self.mode == "mail" else "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:  # fmt: skip
        envelope.rcpt_tos.append(address)
        return self._echo("550 5.1.1 no such user:") if self.mode == "rcpt" else "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.mode in ("data554", "data451"):
            return self._echo(f"{self.mode[4:]} 5.7.1 message refused:")
        return "250 Message accepted for delivery"


def echo_smtp(tls_context: ssl.SSLContext | None = None) -> tuple[Controller, EchoSmtp]:
    handler = EchoSmtp()
    options: dict[str, Any] = {"auth_require_tls": tls_context is not None}
    if tls_context is not None:
        options.update(tls_context=tls_context, require_starttls=True)
    handler.port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port, **options)
    controller.start()
    return controller, handler


class EchoHttp:
    """Answers each POST with the next status queued for its first path segment (`services`,
    `hooks`, `pagerduty`), and a body that echoes the request line, the decoded path, every
    header and the body; 2xx when nothing is queued."""

    def __init__(self) -> None:
        self.replies: dict[str, list[int]] = {}
        self.echoes: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                queued = receiver.replies.get(self.path.split("/")[1], [])
                status = queued.pop(0) if queued else 202
                echo = f"{self.requestline} | {unquote(self.path)} | {dict(self.headers)} | {data}"
                if status >= 300:
                    receiver.echoes.append(echo)
                self.send_response(status)
                self.end_headers()
                self.wfile.write((echo if status >= 300 else "{}").encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
