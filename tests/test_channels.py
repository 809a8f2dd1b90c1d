"""Channels against real servers on loopback: SMTP (plain, STARTTLS, implicit TLS, AUTH), and an
HTTP receiver that validates Slack, PagerDuty and webhook payloads."""

import email
import email.policy
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from msgspec.structs import replace

from sealguard.config import (
    ChannelsConfig,
    EmailChannel,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
)
from sealguard.escalation.channels import send
from sealguard.escalation.packet import Packet, webhook_schema
from sealguard.ledger import read_events

from .conftest import MakeTree
from .receivers import HttpReceiver, echo_smtp, self_signed, smtp_server

ROUTING_KEY = "R" * 32
PACKET = Packet(
    escalation_id="ESC_20261126_180000_0badc0de", event_id="RTE_20261126_175959_12345678",
    snapshot_id="SNP_20261126_175959_12345678", commit="2e3f8d2", classification="PRODUCT_DRIFT",
    severity="major", observed_at="2026-11-26T17:59:59Z", created_at="2026-11-26T18:00:00Z",
    deadline="15m", deadline_at="2026-11-26T18:15:00Z", log_link="/srv/p/governance/runtime/GOVERNANCE_LOG.ndjson",
    why=["PD-02 [unit]: 1 failing: t::x"], diff="-a\n+b", diff_truncated=False,
    next="observation frozen: an Architect must decide Accept, Investigate or Rollback", project="fuelcalc",
)  # fmt: skip
FULL_DIFF = "# probe unit\n-a\n+b\n" * 50


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver().start()
    yield server
    server.stop()


def _email(port: int, **kw: Any) -> ChannelsConfig:
    return ChannelsConfig(
        email=EmailChannel(
            host="127.0.0.1",
            port=port,
            sender="sealguard@example.org",
            to=["architect@example.org"],
            **kw,
        )
    )


def _parsed(mailbox: Any) -> email.message.Message:
    assert len(mailbox.messages) == 1
    return email.message_from_bytes(mailbox.messages[0].content, policy=email.policy.default)


def test_plain_smtp_carries_every_field_and_the_full_diff() -> None:
    controller, mailbox = smtp_server()
    try:
        attempt = send("email", _email(controller.port), PACKET, FULL_DIFF, {})
    finally:
        controller.stop()
    assert attempt.outcome == "delivered", attempt.detail
    message = _parsed(mailbox)
    assert message["Subject"].startswith(
        "[sealguard] PRODUCT_DRIFT (major) in fuelcalc: RTE_20261126_175959_12345678"
    )
    assert message["Message-ID"] == "<ESC_20261126_180000_0badc0de@sealguard>"
    assert message["Subject"].endswith("; act by 2026-11-26T18:15:00Z")
    body = message.get_payload()[0].get_payload(decode=True).decode().replace("\r\n", "\n")
    for field in ("ESC_20261126_180000_0badc0de", "SNP_20261126_175959_12345678", "2e3f8d2", "2026-11-26T17:59:59Z",
                  "GOVERNANCE_LOG.ndjson", "an Architect must decide", "by 2026-11-26T18:15:00Z", "-a\n+b"):  # fmt: skip
        assert field in body, field
    attachment = message.get_payload()[1]
    assert attachment.get_filename() == "RTE_20261126_175959_12345678-diff.txt"
    assert attachment.get_payload(decode=True).decode().replace("\r\n", "\n") == FULL_DIFF


def test_starttls_with_auth(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller, mailbox = smtp_server(starttls=context, auth=("sealguard", "s3cret-pw"))
    try:
        config = _email(
            controller.port,
            starttls=True,
            username="sealguard",
            password_env="SMTP_PASSWORD",
            ca_file=str(cert),
        )
        assert (
            send("email", config, PACKET, FULL_DIFF, {"SMTP_PASSWORD": "s3cret-pw"}).outcome
            == "delivered"
        )
        wrong = send("email", config, PACKET, FULL_DIFF, {"SMTP_PASSWORD": "nope"})
        missing = send("email", config, PACKET, FULL_DIFF, {})
    finally:
        controller.stop()
    assert len(mailbox.messages) == 1
    assert wrong.outcome == "failed" and "535" in wrong.detail and "nope" not in wrong.detail
    assert (missing.outcome, missing.detail) == (
        "failed",
        "environment variable SMTP_PASSWORD is not set",
    )


def test_implicit_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller, mailbox = smtp_server(tls=context)
    try:
        trusted = send(
            "email", _email(controller.port, tls=True, ca_file=str(cert)), PACKET, FULL_DIFF, {}
        )
        untrusted = send("email", _email(controller.port, tls=True), PACKET, FULL_DIFF, {})
    finally:
        controller.stop()
    assert trusted.outcome == "delivered" and len(mailbox.messages) == 1
    assert untrusted.outcome == "failed" and "CERTIFICATE_VERIFY_FAILED" in untrusted.detail


def test_slack_payload(receiver: HttpReceiver) -> None:
    config = ChannelsConfig(slack=SlackChannel(url_env="SLACK_WEBHOOK_URL"))
    secret_url = receiver.url("/slack")
    attempt = send("slack", config, PACKET, FULL_DIFF, {"SLACK_WEBHOOK_URL": secret_url})
    assert attempt.outcome == "delivered"
    text = receiver.bodies("/slack")[0]["text"]
    assert (
        "*PRODUCT_DRIFT* (major)" in text
        and "`ESC_20261126_180000_0badc0de`" in text
        and "```-a\n+b```" in text
    )


def test_pagerduty_trigger_is_valid_with_dedup_key(receiver: HttpReceiver) -> None:
    config = ChannelsConfig(
        pagerduty=PagerDutyChannel(
            routing_key_env="PD_ROUTING_KEY", url=receiver.url("/pagerduty"), source="observer-1"
        )
    )
    attempt = send("pagerduty", config, PACKET, FULL_DIFF, {"PD_ROUTING_KEY": ROUTING_KEY})
    assert attempt.outcome == "delivered", attempt.detail
    body = receiver.bodies("/pagerduty")[0]
    assert body["dedup_key"] == PACKET.event_id and body["payload"]["severity"] == "error"
    assert body["payload"]["custom_details"]["escalation_id"] == PACKET.escalation_id
    assert receiver.incidents == {PACKET.event_id}


@pytest.mark.parametrize(
    ("status", "outcome"), [(400, "rejected"), (429, "failed"), (500, "failed"), (503, "failed")]
)
def test_pagerduty_retry_rules(receiver: HttpReceiver, status: int, outcome: str) -> None:
    receiver.statuses["/pagerduty"] = [status]
    config = ChannelsConfig(
        pagerduty=PagerDutyChannel(routing_key_env="K", url=receiver.url("/pagerduty"))
    )
    assert send("pagerduty", config, PACKET, "", {"K": ROUTING_KEY}).outcome == outcome


def test_an_invalid_pagerduty_event_is_rejected_by_the_receiver(receiver: HttpReceiver) -> None:
    config = ChannelsConfig(
        pagerduty=PagerDutyChannel(routing_key_env="K", url=receiver.url("/pagerduty"))
    )
    attempt = send("pagerduty", config, PACKET, "", {"K": "too-short"})
    assert (
        attempt.outcome == "rejected"
        and "routing_key must be a 32-character string" in attempt.detail
    )


def test_webhook_body_matches_the_shipped_schema(receiver: HttpReceiver) -> None:
    config = ChannelsConfig(
        webhook=WebhookChannel(url=receiver.url("/hook"), headers={"X-Team": "qa"})
    )
    assert send("webhook", config, PACKET, "", {}).outcome == "delivered"
    request = receiver.requests[0]
    shipped = json.loads(
        (Path(__file__).parents[1] / "src/sealguard/schemas/escalation.schema.json").read_text()
    )
    assert shipped == json.loads(json.dumps(webhook_schema()))
    jsonschema.validate(request.body, shipped)
    assert (
        request.headers["Idempotency-Key"] == PACKET.escalation_id
        and request.headers["X-Team"] == "qa"
    )


def test_a_channel_that_is_down_fails_without_leaking_its_secret(receiver: HttpReceiver) -> None:
    secret_url = receiver.url("/slack") + "/T000/B000/XXXXsecretXXXX"
    receiver.stop()
    config = ChannelsConfig(slack=SlackChannel(url_env="SLACK_WEBHOOK_URL"))
    attempt = send("slack", config, PACKET, "", {"SLACK_WEBHOOK_URL": secret_url})
    assert attempt.outcome == "failed" and "XXXXsecretXXXX" not in attempt.detail
    receiver.start()  # so the fixture can stop it


def test_an_unconfigured_channel_is_a_failed_attempt_not_a_crash() -> None:
    attempt = send("pagerduty", ChannelsConfig(), PACKET, "", {})
    assert (attempt.outcome, attempt.detail) == (
        "failed",
        "channel pagerduty is not configured in [channels.pagerduty]",
    )


def test_auth_is_never_sent_in_clear_unless_the_config_says_so() -> None:
    controller, handler = echo_smtp()  # offers AUTH on a plain connection, and no STARTTLS
    config = _email(controller.port, username="sealguard", password_env="P")
    try:
        refused = send("email", config, PACKET, FULL_DIFF, {"P": "s3cret-pw"})
        creds_then = handler.creds
        allowed = replace(config.email, allow_plaintext_auth=True)
        delivered = send("email", ChannelsConfig(email=allowed), PACKET, "", {"P": "s3cret-pw"})
    finally:
        controller.stop()
    assert (refused.outcome, refused.detail) == (
        "rejected",
        f"refused to send the SMTP password unencrypted to 127.0.0.1:{controller.port}: set "
        "`starttls = true` or `tls = true` in [channels.email] "
        "(or `allow_plaintext_auth = true` to accept this)",
    )
    assert creds_then == (b"", b"")  # the server never saw an AUTH command
    assert delivered.outcome == "delivered" and handler.creds == (b"sealguard", b"s3cret-pw")


def test_escalations_test_refuses_auth_in_clear_with_exit_69(
    make_project: MakeTree, invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller, handler = echo_smtp()
    config = (
        '[seal]\npaths = ["src/**"]\nfiles_only = true\n[channels.email]\nhost = "127.0.0.1"\n'
        f'port = {controller.port}\nusername = "sealguard"\npassword_env = "P"\n'
        'from = "s@example.org"\nto = ["a@example.org"]\n'
    )
    project = make_project(config=config)
    monkeypatch.setenv("P", "s3cret-pw")
    try:
        assert invoke("--project", str(project.root), "seal").exit_code == 0
        result = invoke("--project", str(project.root), "escalations", "test", "email")
    finally:
        controller.stop()
    assert result.exit_code == 69 and handler.creds == (b"", b"")
    assert result.stdout == (
        "test via email: rejected (refused to send the SMTP password unencrypted to "
        f"127.0.0.1:{controller.port}: set `starttls = true` or `tls = true` in "
        "[channels.email] (or `allow_plaintext_auth = true` to accept this))\n"
    )
    journaled = read_events(project.log_file)[-1]
    assert (journaled["type"], journaled["channel"], journaled["outcome"]) == (
        "escalation_test",
        "email",
        "rejected",
    )


def test_webhook_headers_from_the_environment(receiver: HttpReceiver) -> None:
    channel = WebhookChannel(
        url=receiver.url("/hook"),
        headers={"X-Team": "qa"},
        headers_env={"Authorization": "HOOK_AUTH"},
    )
    config = ChannelsConfig(webhook=channel)
    assert send("webhook", config, PACKET, "", {"HOOK_AUTH": "Bearer t0ken"}).outcome == "delivered"
    missing = send("webhook", config, PACKET, "", {})
    headers = receiver.requests[0].headers
    assert (headers["Authorization"], headers["X-Team"]) == ("Bearer t0ken", "qa")
    assert (missing.outcome, missing.detail) == (
        "failed",
        "environment variable HOOK_AUTH is not set",
    )
    assert len(receiver.requests) == 1  # nothing is sent without it
