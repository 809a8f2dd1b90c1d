"""Keeping secrets out of what a channel reports. Pure: strings in, strings out.

A receiver's error may echo what it was sent: an SMTP server its AUTH line, an HTTP server the
request path, query or headers, a JSON body with the routing key. So every secret is masked
in every form it is commonly written in: as is, URL-encoded, JSON-, repr- or HTML-escaped, and
in base64 (whole, and the part of the base64 of any longer text that depends on it alone, which
is how it sits inside `AUTH PLAIN \\0user\\0password` or an HTTP Basic header).
"""

import base64
import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

MASK = "***"
FRAGMENT_MIN = 8  # pieces of a secret URL or header shorter than this are words, not secrets
BASE64_CORE_MIN = 8  # shorter base64 cores would mask ordinary text by chance
_PERCENT = re.compile(r"%[0-9A-F]{2}")
_PIECES = re.compile(r"[/?#&=:@;,\s]+")


def _base64_forms(data: bytes) -> set[str]:
    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(data).decode()
        forms |= {whole, whole.rstrip("=")}
        for pad in range(3):  # where the secret starts within a 3-byte group
            first, end = -(-pad // 3), (pad + len(data)) // 3  # whole groups inside it
            core = encode(b"\0" * pad + data + b"\0\0").decode()[first * 4 : end * 4]
            if len(core) >= BASE64_CORE_MIN:
                forms.add(core)
    return forms


def forms(secret: str) -> set[str]:
    """Every way `secret` is commonly written in an error text."""
    quoted = {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    quoted |= {_PERCENT.sub(lambda m: m.group().lower(), q) for q in quoted}
    escaped = {
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        repr(secret.encode())[2:-1],
        html.escape(secret),
    }
    found = {secret, secret.strip(), *quoted, *escaped} | _base64_forms(secret.encode())
    return {form for form in found if form}


@dataclass(frozen=True)
class Scrubber:
    """Masks every form of every secret it was built with."""

    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, secrets: Iterable[str]) -> "Scrubber":
        every = {form for secret in secrets if secret for form in forms(secret)}
        if not every:
            return cls(None)
        # the longest first, so that a secret is masked whole before any part of it
        alternatives = sorted(every, key=lambda form: (-len(form), form))
        return cls(re.compile("|".join(map(re.escape, alternatives))))

    def __call__(self, text: str) -> str:
        return self.pattern.sub(MASK, text) if self.pattern else text


def url_secrets(url: str, declared: bool) -> list[str]:
    """The secret parts of a channel URL: the password of its userinfo (and `user:password`,
    as HTTP Basic sends it), and its path, query and query values of FRAGMENT_MIN characters or
    more. A URL `declared` secret (kept in the environment) is masked whole, and so is each of
    its pieces of FRAGMENT_MIN characters or more but its host."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        found = [parts.path, parts.query, parts.fragment]
        found += [value for _, value in parse_qsl(parts.query)]
        password = parts.password or ""
        basic = f"{parts.username}:{password}" if password else ""
    except ValueError:  # not even a URL (a bad port, a broken IPv6 address)
        host, found, password, basic = "", [], "", ""
    if declared:
        found += [piece for piece in _PIECES.split(url) if piece.lower() != host]
    kept = [piece for piece in found if len(piece) >= FRAGMENT_MIN]
    return [*kept, password, basic, url if declared else ""]


def header_secrets(value: str, declared: bool) -> list[str]:
    """A header value, and its words (`Bearer <token>`), of FRAGMENT_MIN characters or more;
    a value `declared` secret (kept in the environment) is masked whatever its length."""
    found = [piece for piece in (value, *value.split()) if len(piece) >= FRAGMENT_MIN]
    return [*found, value if declared else ""]


def auth_secrets(username: str, password: str) -> list[str]:
    """The password, and what SMTP AUTH PLAIN encodes: `\\0user\\0password`."""
    return [password, f"\0{username}\0{password}", f"{username}\0{username}\0{password}"]
