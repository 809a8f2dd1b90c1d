"""Sending one packet through one channel: email (SMTP), Slack, PagerDuty, a webhook.

Each send returns an outcome: delivered; failed (worth retrying: network errors, timeouts,
429 and 5xx, temporary SMTP errors); or rejected (never retried: PagerDuty's 400, a 4xx from
a webhook, a permanent SMTP refusal). Secrets come from environment variables at send time;
`send` is the one place a detail comes from, and it masks every configured secret in it (see
scrubber.py) before anyone can journal or print it.
"""

import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sealguard.config import (
    ChannelsConfig,
    EmailChannel,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
)
from sealguard.durations import parse_duration
from sealguard.escalation import messages
from sealguard.escalation.outbox import Outcome
from sealguard.escalation.packet import Packet
from sealguard.escalation.scrubber import Scrubber, auth_secrets, header_secrets, url_secrets

DETAIL_MAX = 300  # characters of a detail, cut only once its secrets are masked
_UNENCODABLE = "a password, URL or header holds a character its protocol cannot carry"


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    detail: str


class _Missing(Exception):
    """A secret's environment variable is not set."""


def _secret(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise _Missing(f"environment variable {name} is not set")
    return value


def _text(reply: bytes | str) -> str:
    """A server's reply as text; undecodable bytes as \\xNN, as repr writes them."""
    return reply.decode("utf-8", "backslashreplace") if isinstance(reply, bytes) else reply


def _http(
    url: str, body: dict[str, Any], headers: dict[str, str], timeout: float
) -> tuple[int, str]:
    import httpx  # only when something is sent: it is slow to import

    response = httpx.post(url, json=body, headers=headers, timeout=timeout)
    return response.status_code, response.text


def _http_outcome(
    status: int, text: str, ok: tuple[int, ...], rejected: frozenset[int] | None
) -> Attempt:
    if status in ok:
        return Attempt("delivered", f"HTTP {status}")
    retry = status in (408, 429) or status >= 500
    permanent = (rejected is None and 400 <= status < 500 and not retry) or (
        rejected is not None and status in rejected
    )
    return Attempt("rejected" if permanent else "failed", f"HTTP {status}: {text}")


def _email(
    channel: EmailChannel, packet: Packet, attachment: str, env: Mapping[str, str]
) -> Attempt:
    subject, body = messages.email(packet)
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = (
        subject,
        channel.sender,
        ", ".join(channel.to),
    )
    message["Message-ID"] = f"<{packet.escalation_id}@sealguard>"  # lets receivers drop a resend
    message["X-Sealguard-Escalation"] = packet.escalation_id
    message.set_content(body)
    message.add_attachment(
        attachment.encode(),
        maintype="text",
        subtype="plain",
        filename=f"{packet.event_id}-diff.txt",
    )
    password = _secret(env, channel.password_env) if channel.password_env else None
    context = (
        ssl.create_default_context(cafile=channel.ca_file)
        if channel.tls or channel.starttls
        else None
    )
    timeout = parse_duration(channel.timeout)
    try:
        if channel.tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                channel.host, channel.port, timeout=timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(channel.host, channel.port, timeout=timeout)
        with smtp:
            if channel.starttls:
                smtp.starttls(context=context)
            if channel.username and password is not None:
                if not isinstance(smtp.sock, ssl.SSLSocket) and not channel.allow_plaintext_auth:
                    return Attempt("rejected", _in_clear(channel))
                smtp.login(channel.username, password)
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        refused = "; ".join(
            f"{to}: {code} {_text(reply)}" for to, (code, reply) in sorted(exc.recipients.items())
        )
        return Attempt("rejected", f"every recipient was refused: {refused}")
    except smtplib.SMTPResponseException as exc:
        outcome: Outcome = (
            "rejected" if 500 <= exc.smtp_code < 600 and exc.smtp_code != 535 else "failed"
        )
        return Attempt(outcome, f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}")
    return Attempt(
        "delivered", f"accepted by {channel.host}:{channel.port} for {len(channel.to)} recipients"
    )


def _in_clear(channel: EmailChannel) -> str:
    return (
        f"refused to send the SMTP password unencrypted to {channel.host}:{channel.port}: "
        "set `starttls = true` or `tls = true` in [channels.email] "
        "(or `allow_plaintext_auth = true` to accept this)"
    )


def _url(channel: SlackChannel | WebhookChannel, env: Mapping[str, str]) -> str:
    return channel.url if channel.url else _secret(env, channel.url_env or "")


def _slack(channel: SlackChannel, packet: Packet, env: Mapping[str, str]) -> Attempt:
    status, text = _http(
        _url(channel, env), messages.slack(packet), {}, parse_duration(channel.timeout)
    )
    return _http_outcome(status, text, (200,), None)


def _pagerduty(channel: PagerDutyChannel, packet: Packet, env: Mapping[str, str]) -> Attempt:
    body = messages.pagerduty(
        packet, _secret(env, channel.routing_key_env), channel.source or socket.gethostname()
    )
    status, text = _http(channel.url, body, {}, parse_duration(channel.timeout))
    return _http_outcome(status, text, (200, 202), frozenset({400}))  # retry 429 and 5xx, never 400


def _webhook(channel: WebhookChannel, packet: Packet, env: Mapping[str, str]) -> Attempt:
    from_env = {name: _secret(env, variable) for name, variable in channel.headers_env.items()}
    headers = {**channel.headers, **from_env, "Idempotency-Key": packet.escalation_id}
    status, text = _http(
        _url(channel, env), messages.webhook(packet), headers, parse_duration(channel.timeout)
    )
    return _http_outcome(status, text, tuple(range(200, 300)), None)


def _secrets(config: ChannelsConfig, env: Mapping[str, str]) -> list[str]:
    """Every secret of every configured channel, as the scrubber needs them."""
    found: list[str] = []
    if config.email is not None and config.email.password_env:
        password = env.get(config.email.password_env, "")
        found += auth_secrets(config.email.username or "", password) if password else []
    for channel in (config.slack, config.webhook):
        if channel is not None:
            found += url_secrets(channel.url, declared=False) if channel.url else []
            found += url_secrets(env.get(channel.url_env, ""), True) if channel.url_env else []
    if config.pagerduty is not None:
        found += [env.get(config.pagerduty.routing_key_env, "")]
        found += url_secrets(config.pagerduty.url, declared=False)
    if config.webhook is not None:
        for value in config.webhook.headers.values():
            found += header_secrets(value, declared=False)
        for variable in config.webhook.headers_env.values():
            found += header_secrets(env.get(variable, ""), declared=True)
    return found


def send(
    name: str, config: ChannelsConfig, packet: Packet, attachment: str, env: Mapping[str, str]
) -> Attempt:
    """One delivery attempt; never raises for what the network or the receiver does. Its
    detail is on one line, bounded, and holds no form of any configured secret."""
    attempt = _attempt(name, config, packet, attachment, env)
    detail = " ".join(Scrubber.of(_secrets(config, env))(attempt.detail).split())
    if len(detail) > DETAIL_MAX:
        detail = detail[: DETAIL_MAX - 1] + "…"
    return Attempt(attempt.outcome, detail)


def _attempt(
    name: str, config: ChannelsConfig, packet: Packet, attachment: str, env: Mapping[str, str]
) -> Attempt:
    channel = getattr(config, name, None)
    if channel is None:
        return Attempt("failed", f"channel {name} is not configured in [channels.{name}]")
    try:
        if isinstance(channel, EmailChannel):
            return _email(channel, packet, attachment, env)
        if isinstance(channel, SlackChannel):
            return _slack(channel, packet, env)
        if isinstance(channel, PagerDutyChannel):
            return _pagerduty(channel, packet, env)
        return _webhook(channel, packet, env)
    except _Missing as exc:
        return Attempt("failed", str(exc))
    except UnicodeError as exc:  # its message would show a character of the secret
        return Attempt("failed", f"{type(exc).__name__}: {_UNENCODABLE}")
    except _transport_errors() as exc:  # network, TLS, timeouts: the outcome is unknown; retry
        return Attempt("failed", f"{type(exc).__name__}: {exc}")


def _transport_errors() -> tuple[type[Exception], ...]:
    import httpx

    # InvalidURL and ValueError: a URL or header from the environment that cannot be sent
    return (OSError, smtplib.SMTPException, httpx.HTTPError, httpx.InvalidURL, ValueError)
