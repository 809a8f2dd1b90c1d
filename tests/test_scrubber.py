"""No secret leaves the process: every failure path of every channel, against real servers on
loopback that echo back what they were sent (credentials, paths, queries, headers, bodies), then
a grep of every file under governance/, of every export and of everything the CLI printed, for
each secret and its common encodings."""

import base64
import html
import json
import ssl
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner, Result

from sealguard.cli import cli
from sealguard.config import ChannelsConfig, EmailChannel, WebhookChannel, load_config
from sealguard.demo import CONFIG, _copy_product
from sealguard.escalation.channels import send
from sealguard.escalation.dispatch import deliver_due
from sealguard.escalation.scrubber import (
    MASK,
    Scrubber,
    auth_secrets,
    header_secrets,
    url_secrets,
)
from sealguard.project import Project

from .receivers import EchoHttp, EchoSmtp, echo_smtp, self_signed
from .test_channels import PACKET

USER = "sealguard-bot"
PASSWORD = 'Sm7p"pa%ss/w+rd=&?:x'
ROUTING_KEY = "pdR0utingKey0123456789abcdefABCD"
HOOK_BEARER = "h00kHeaderToken-7f3a9c"
LITERAL_KEY = "h00kLiteralApiKey-51"


def base64_forms(data: bytes) -> set[str]:
    """The base64 of `data`, and the part of the base64 of any text holding it that depends on
    `data` alone (its 3-byte groups, at each of the three alignments)."""
    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms |= {encode(data).decode(), encode(data).decode().rstrip("=")}
        for pad in range(3):
            first, end = -(-pad // 3) * 3, (pad + len(data)) // 3 * 3
            core = encode(b"\0" * pad + data + b"\0\0")[first // 3 * 4 : end // 3 * 4].decode()
            if len(core) >= 8:
                forms.add(core)
    return forms


def forms(secret: str) -> set[str]:
    """A secret as it may be written: as is, URL-encoded, JSON- or repr-escaped, HTML-escaped,
    in base64."""
    return {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        repr(secret.encode())[2:-1],
        html.escape(secret),
    } | base64_forms(secret.encode())


def test_forms_include_base64_inside_a_longer_text() -> None:
    assert {"YWJjZGVmZ2hp", "Y2RlZmdo", "YmNkZWZn"} <= forms("abcdefghi")  # its base64, its cores
    for prefix in (b"", b"x", b"xy", b"user:"):
        encoded = base64.b64encode(prefix + b"abcdefghi" + b"!").decode()
        assert any(form in encoded for form in base64_forms(b"abcdefghi")), prefix


@pytest.fixture
def http() -> Iterator[EchoHttp]:
    server = EchoHttp()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[EchoSmtp]:
    controller, handler = echo_smtp()
    yield handler
    controller.stop()


@pytest.fixture
def secrets(http: EchoHttp) -> dict[str, str]:
    port = http.port
    return {
        "SMTP_PASSWORD": PASSWORD,
        "SLACK_WEBHOOK_URL": f"http://slackuser:Sl4ckUserPass@127.0.0.1:{port}"
        "/services/T0SLACKTEAM/B0SLACKBOT/sl4ckS3cretToken?auth=sl4ckQueryToken",
        "PD_ROUTING_KEY": ROUTING_KEY,
        "HOOK_URL": f"http://127.0.0.1:{port}/hooks/h00kPathSecret-2b?sig=h00kQuerySig-9e&v=1",
        "HOOK_AUTH": f"Bearer {HOOK_BEARER}",
    }


def secret_texts(secrets: dict[str, str]) -> list[str]:
    """Every secret and every secret part of a secret URL."""
    texts = [*secrets.values(), USER + "\0" + PASSWORD, LITERAL_KEY, HOOK_BEARER]
    texts += ["slackuser:Sl4ckUserPass", "Sl4ckUserPass"]  # HTTP Basic, from the URL's userinfo
    texts += [
        "/services/T0SLACKTEAM/B0SLACKBOT/sl4ckS3cretToken",
        "T0SLACKTEAM",
        "B0SLACKBOT",
        "sl4ckS3cretToken",
        "auth=sl4ckQueryToken",
        "sl4ckQueryToken",
        "/hooks/h00kPathSecret-2b",
        "h00kPathSecret-2b",
        "sig=h00kQuerySig-9e&v=1",
        "h00kQuerySig-9e",
    ]
    return texts


def leaks(texts: list[str], haystacks: dict[str, bytes]) -> list[str]:
    found = []
    for secret in texts:
        for form in forms(secret):
            found += [
                f"{form!r} in {name}" for name, data in haystacks.items() if form.encode() in data
            ]
    return found


ESCALATION = """
[channels.email]
host = "127.0.0.1"
port = {smtp}
username = "{user}"
password_env = "SMTP_PASSWORD"
allow_plaintext_auth = true
from = "sealguard@example.org"
to = ["architect@example.org"]
timeout = "10s"

[channels.slack]
url_env = "SLACK_WEBHOOK_URL"
timeout = "10s"

[channels.pagerduty]
routing_key_env = "PD_ROUTING_KEY"
url = "http://127.0.0.1:{http}/pagerduty"
timeout = "10s"

[channels.webhook]
url_env = "HOOK_URL"
headers = {{ X-Api-Key = "{literal}" }}
headers_env = {{ Authorization = "HOOK_AUTH" }}
timeout = "10s"

[escalation]
PRODUCT_DRIFT = {{ channels = ["slack", "email", "pagerduty", "webhook"], deadline = "15m" }}
"""


@dataclass
class Rig:
    """A sealed project whose four channels point at echoing receivers; `printed` keeps every
    line the CLI wrote."""

    project: Project
    http: EchoHttp
    smtp: EchoSmtp
    secrets: dict[str, str]
    printed: list[str] = field(default_factory=list)

    def cli(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, ["--project", str(self.project.root), *args])
        self.printed.append(result.stdout + result.stderr)
        return result

    def tried(self, channel: str, outcome: str) -> None:
        result = self.cli("escalations", "test", channel)
        assert result.exit_code == 69, result.output
        assert result.stdout.startswith(f"test via {channel}: {outcome} ("), result.stdout


@pytest.fixture
def rig(
    tmp_path: Path, http: EchoHttp, smtp: EchoSmtp, secrets: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Rig:  # fmt: skip
    root = tmp_path / "fuelcalc"
    _copy_product(root)
    (root / "governance").mkdir()
    escalation = ESCALATION.format(smtp=smtp.port, http=http.port, user=USER, literal=LITERAL_KEY)
    config = CONFIG.format(python=json.dumps(sys.executable)) + escalation
    (root / "governance/sealguard.toml").write_text(config)
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["--project", str(root), "seal"])
    assert result.exit_code == 0, result.output
    return Rig(Project(root), http, smtp, secrets)


def _channel_tests(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """`escalations test` through every failure path: each must say so, with exit 69."""
    for rig.smtp.mechanism in ("PLAIN", "LOGIN"):
        rig.smtp.mode = "auth"
        rig.tried("email", "failed")
    for rig.smtp.mode, outcome in [("mail", "rejected"), ("rcpt", "rejected"),
                                   ("data554", "rejected"), ("data451", "failed")]:  # fmt: skip
        rig.tried("email", outcome)
    refused = {"slack": (400, 404), "pagerduty": (400,), "webhook": (400, 404)}  # never retried
    for segment, channel in [("services", "slack"), ("pagerduty", "pagerduty"), ("hooks", "webhook")]:  # fmt: skip
        for status in (502, 429, 408, 404, 400):
            rig.http.replies[segment] = [status]
            rig.tried(channel, "rejected" if status in refused[channel] else "failed")
    # an illegal header value: httpx's error quotes it
    monkeypatch.setenv("HOOK_AUTH", f"Bearer {HOOK_BEARER}\n")
    rig.tried("webhook", "failed")
    # a URL that httpx refuses, quoting the piece it cannot read
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "http://127.0.0.1:sl4ckS3cretToken/services/x")
    rig.tried("slack", "failed")
    for name, value in rig.secrets.items():
        monkeypatch.setenv(name, value)


def _escalated(rig: Rig, export: Path) -> None:
    """A real escalation: observe delivers at once, retries fail, then the receivers refuse."""
    rig.smtp.mode = "data451"
    rig.http.replies = {
        "services": [502, 429, 400],
        "pagerduty": [502, 429, 400],
        "hooks": [502, 408, 404],
    }
    (rig.project.root / "data/reserve.json").write_text('{"reserve_kg": 1000}')
    assert rig.cli("observe").exit_code == 2, rig.printed[-1]
    config = load_config(rig.project.config_file)
    later = datetime.now(UTC)
    for rig.smtp.mode, minutes in (("auth", 2), ("rcpt", 5)):
        attempts = deliver_due(rig.project, config, later + timedelta(minutes=minutes))
        assert len(attempts) == 4, attempts
        rig.printed.append(json.dumps(attempts))  # what `escalations deliver` would print
    states = json.loads(rig.cli("escalations", "--json").stdout)[0]["deliveries"]
    assert {d["channel"]: d["state"] for d in states} == dict.fromkeys(
        ("slack", "email", "pagerduty", "webhook"), "rejected"
    )
    for args in (["escalations"], ["status"], ["status", "--json"], ["log", "show"], ["log", "show", "--json"]):  # fmt: skip
        assert rig.cli(*args).exit_code in (0, 2), rig.printed[-1]
    assert rig.cli("log", "export", "-o", str(export)).exit_code == 0


def _everything_written(rig: Rig, tmp_path: Path) -> dict[str, bytes]:
    """Every file under governance/ but the config a person wrote (and the seal's byte-identical
    copy of it, which never leaves the project), every file of every export, and everything the
    CLI printed."""
    written = [p for p in (rig.project.root / "governance").rglob("*") if p.is_file()]
    person = {rig.project.config_file, rig.project.governance / "baseline" / "_sealguard.toml"}
    found = {str(p): p.read_bytes() for p in written if p not in person}
    archives = [tmp_path / "audit.tar.gz", *rig.project.runtime.glob("exports/*.tar.gz")]
    assert len(archives) >= 2
    for number, archive in enumerate(archives):
        with tarfile.open(archive) as tar:
            tar.extractall(tmp_path / f"x{number}", filter="data")
        extracted = (tmp_path / f"x{number}").rglob("*")
        found |= {str(p): p.read_bytes() for p in extracted if p.is_file()}
    return found | {f"CLI output {n}": text.encode() for n, text in enumerate(rig.printed)}


def test_no_secret_leaves_the_process(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _channel_tests(rig, monkeypatch)
    _escalated(rig, tmp_path / "audit.tar.gz")
    # every secret went out to a receiver that echoed it back: the grep below can fail
    echoed = "\n".join(rig.http.echoes + rig.smtp.echoes)
    texts = secret_texts(rig.secrets)
    urls = (rig.secrets["SLACK_WEBHOOK_URL"], rig.secrets["HOOK_URL"])  # only their parts are sent
    assert [t for t in texts if t not in urls and not any(f in echoed for f in forms(t))] == []
    assert not list((tmp_path / "tmp").glob("sealguard-crash-*"))  # no traceback file either
    assert leaks(texts, _everything_written(rig, tmp_path)) == []
    assert MASK in "\n".join(rig.printed)  # what was scrubbed says so


def test_a_secret_is_masked_in_each_of_its_forms() -> None:
    scrub = Scrubber.of(["pa ss/w+rd=&"])
    text = (
        'pa ss/w+rd=& pa%20ss%2Fw%2Brd%3D%26 pa+ss%2fw%2brd%3d%26 "pa ss/w+rd=&" '
        f"{base64.b64encode(b'pa ss/w+rd=&').decode()} "
        f"{base64.b64encode(b'user:pa ss/w+rd=&').decode()} pa ss/w+rd=&amp;"
    )
    # inside a longer base64 text, the groups that hold only the secret's bytes are masked
    assert scrub(text) == f'{MASK} {MASK} {MASK} "{MASK}" {MASK} dXNlcjpw{MASK}PSY= {MASK}'


def test_the_longest_form_is_masked_whole() -> None:
    scrub = Scrubber.of(["token", "https://h.example/token?x=token"])
    assert scrub("GET https://h.example/token?x=token: 404") == f"GET {MASK}: 404"


def test_nothing_to_mask() -> None:
    assert Scrubber.of(["", ""])("HTTP 502: bad gateway") == "HTTP 502: bad gateway"


def test_secret_parts_of_urls() -> None:
    url = "https://bot:pw@hooks.example.org/services/T0TEAM0001/B0BOT/s3cretTok3n?token=q1w2e3r4t5&v=1"
    assert set(url_secrets(url, declared=False)) == {
        "/services/T0TEAM0001/B0BOT/s3cretTok3n",
        "token=q1w2e3r4t5&v=1",
        "q1w2e3r4t5",
        "pw",
        "bot:pw",
        "",
    }
    declared = url_secrets(url, declared=True)
    assert {url, "services", "T0TEAM0001", "s3cretTok3n"} <= set(declared)
    assert "hooks.example.org" not in declared and "B0BOT" not in declared  # host; too short
    assert url_secrets("http://127.0.0.1:s3cretTok3n/x", declared=True)[:1] == ["s3cretTok3n"]
    assert url_secrets("http://[::1/s3cretTok3n", declared=True) == [
        "s3cretTok3n",
        "",
        "",
        "http://[::1/s3cretTok3n",
    ]


def test_secret_parts_of_headers_and_smtp_auth() -> None:
    assert header_secrets("Bearer abcdefgh1234", declared=False) == [
        "Bearer abcdefgh1234",
        "abcdefgh1234",
        "",
    ]
    assert header_secrets("qa", declared=False) == [""]  # a short literal is a word, not a secret
    assert header_secrets("qa", declared=True) == ["qa"]
    assert auth_secrets("u", "p") == ["p", "\0u\0p", "u\0u\0p"]
    plain = base64.b64encode(b"\0sealguard\0pw").decode()  # as smtplib sends AUTH PLAIN
    assert Scrubber.of(auth_secrets("sealguard", "pw"))(f"535 {plain}") == f"535 {MASK}"


def test_starttls_535_echoing_the_credentials_is_scrubbed(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller, handler = echo_smtp(context)
    handler.mode = "auth"
    channel = EmailChannel(
        host="127.0.0.1", port=controller.port, starttls=True, ca_file=str(cert),
        username=USER, password_env="P", sender="s@example.org", to=["a@example.org"],
    )  # fmt: skip
    try:
        attempt = send("email", ChannelsConfig(email=channel), PACKET, "", {"P": PASSWORD})
    finally:
        controller.stop()
    assert PASSWORD in handler.echoes[0]
    assert attempt.outcome == "failed"
    assert (
        attempt.detail
        == f"SMTP 535: 5.7.8 PLAIN {MASK} rejected: you are {USER}:{MASK} ({MASK}, {MASK})"
    )


def test_a_detail_is_one_line_and_bounded_once_scrubbed(http: EchoHttp) -> None:
    http.replies["hooks"] = [502]
    url = f"http://127.0.0.1:{http.port}/hooks/" + "s3cret" * 100  # beyond the bound, whole
    config = ChannelsConfig(webhook=WebhookChannel(url_env="U"))
    attempt = send("webhook", config, PACKET, "", {"U": url})
    assert "s3cret" not in attempt.detail and "\n" not in attempt.detail
    assert len(attempt.detail) == 300 and attempt.detail.endswith("…")


def test_a_header_that_cannot_be_encoded_fails_without_quoting_it(http: EchoHttp) -> None:
    channel = WebhookChannel(url=f"http://127.0.0.1:{http.port}/hooks/x", headers_env={"A": "A"})
    attempt = send("webhook", ChannelsConfig(webhook=channel), PACKET, "", {"A": "tøken"})
    assert (attempt.outcome, attempt.detail) == (
        "failed",
        "UnicodeEncodeError: a password, URL or header holds a character its protocol cannot carry",
    )
