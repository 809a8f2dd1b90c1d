"""SSHSIG signatures (OpenSSH PROTOCOL.sshsig), the format of `ssh-keygen -Y sign`.

A decision is signed with the tools people already have: `ssh-keygen -Y sign -n
sealguard-decision -f KEY FILE`, an ssh-agent, or sealguard itself, and each verifies the
others' signatures. The namespace is part of what is signed, so a signature made for git
commits or for files cannot be replayed as a decision.

    signed data = "SSHSIG" string(namespace) string("") string(hash) string(H(payload))
    blob        = "SSHSIG" uint32(1) string(public key) string(namespace) string("")
                  string(hash) string(string("ssh-ed25519") string(64-byte signature))
"""

import base64
import binascii
import hashlib
from collections.abc import Iterable
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.decide.agent import Agent, AgentError, agent_socket
from sealguard.decide.keys import ED25519, PublicKey, SshKeyError, public_key_of
from sealguard.decide.wire import Reader, WireError, string, uint32
from sealguard.errors import RefusedError, SealguardError

NAMESPACE = "sealguard-decision"
HASH = "sha512"  # what ssh-keygen uses by default
_HASHES = ("sha256", "sha512")  # what ssh-keygen accepts
_MAGIC = b"SSHSIG"
_VERSION = 1
_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"
_WRAP = 70  # ssh-keygen's line width inside the armor
_SIGNATURE_SIZE = 64

# `role` is authority's: a known key whose holder lacks the role the act needs.
Reason = Literal["malformed", "namespace", "key-type", "mismatch", "unknown-key", "role"]


class SignatureRefused(RefusedError):
    """A signature that does not authorise anything (exit 4); `reason` says which check failed."""

    def __init__(self, message: str, reason: Reason) -> None:
        super().__init__(message)
        self.reason: Reason = reason


def signed_data(payload: bytes, namespace: str = NAMESPACE, hash_name: str = HASH) -> bytes:
    """The bytes the key signs for `payload` (what an ssh-agent is asked to sign)."""
    digest = hashlib.new(hash_name, payload).digest()
    return _MAGIC + string(namespace) + string(b"") + string(hash_name) + string(digest)


def sign(payload: bytes, private_key: Ed25519PrivateKey, namespace: str = NAMESPACE) -> str:
    """The armored signature of `payload`, byte for byte what `ssh-keygen -Y sign` writes."""
    _check_namespace(namespace)
    raw = private_key.sign(signed_data(payload, namespace))
    return _armor(public_key_of(private_key), namespace, string(ED25519) + string(raw))


def sign_with_agent(
    payload: bytes, key: PublicKey, namespace: str = NAMESPACE, agent: Agent | None = None
) -> str:
    """As `sign`, with the private half of `key` held by an ssh-agent (SSH_AUTH_SOCK if no
    `agent` is given)."""
    _check_namespace(namespace)
    agent = agent or Agent(agent_socket())
    encoded = agent.sign(key, signed_data(payload, namespace))
    try:
        _raw_signature(encoded)
    except (WireError, ValueError) as exc:
        raise AgentError(
            f"the ssh-agent at {agent.path} sent an unusable signature: {exc}"
        ) from None
    return _armor(key, namespace, encoded)


def verify(
    payload: bytes, armored: str, allowed: Iterable[PublicKey], namespace: str = NAMESPACE
) -> PublicKey:
    """The key in `allowed` whose signature over `payload` `armored` is, or SignatureRefused."""
    parts = _parse(_dearmor(armored))
    if parts.namespace != namespace:
        raise SignatureRefused(
            f'the signature is for the namespace "{parts.namespace}", not "{namespace}"',
            "namespace",
        )
    key = _signing_key(parts.key_blob)
    try:
        signature = _raw_signature(parts.signature)
    except (WireError, ValueError) as exc:
        raise _malformed(str(exc)) from None
    if not key.verifies(signature, signed_data(payload, namespace, parts.hash_name)):
        raise SignatureRefused(
            "the signature does not verify: the payload was changed after signing, "
            "or the signature belongs to another payload",
            "mismatch",
        )
    for candidate in allowed:
        if candidate == key:
            return candidate
    raise SignatureRefused(
        f"the signature was made by an unknown key {key.fingerprint}", "unknown-key"
    )


def signature_key(armored: str) -> PublicKey:
    """The (ed25519) key a signature names, unverified: to say who claims to have signed."""
    return _signing_key(_parse(_dearmor(armored)).key_blob)


def claimed_keys(signatures: Iterable[str]) -> list[str]:
    """The fingerprint each signature claims (unverified), for the record of a refused act."""
    found = []
    for armored in signatures:
        try:
            found.append(signature_key(armored).fingerprint)
        except SealguardError:
            found.append("(unreadable signature)")
    return found


class _Parts:
    """The fields of a signature blob; `signature` still in its SSH encoding."""

    __slots__ = ("hash_name", "key_blob", "namespace", "signature")

    def __init__(self, key_blob: bytes, namespace: str, hash_name: str, signature: bytes) -> None:
        self.key_blob, self.namespace = key_blob, namespace
        self.hash_name, self.signature = hash_name, signature


def _check_namespace(namespace: str) -> None:
    if not namespace:
        raise ValueError("an SSHSIG namespace must not be empty")


def _armor(key: PublicKey, namespace: str, encoded_signature: bytes) -> str:
    blob = (
        _MAGIC
        + uint32(_VERSION)
        + string(key.blob)
        + string(namespace)
        + string(b"")  # reserved
        + string(HASH)
        + string(encoded_signature)
    )
    text = base64.b64encode(blob).decode()
    lines = [text[at : at + _WRAP] for at in range(0, len(text), _WRAP)]
    return "\n".join([_BEGIN, *lines, _END]) + "\n"


def _malformed(problem: str) -> SignatureRefused:
    return SignatureRefused(f"not an SSH signature: {problem}", "malformed")


def _dearmor(armored: str) -> bytes:
    lines = armored.strip().splitlines()
    if not lines or lines[0].strip() != _BEGIN:
        raise _malformed(f'it does not start with "{_BEGIN}"')
    if len(lines) < 2 or lines[-1].strip() != _END:
        raise _malformed(f'it does not end with "{_END}"')
    if len(lines) < 3:
        raise _malformed("nothing between its header and its footer")
    try:
        return base64.b64decode("".join(line.strip() for line in lines[1:-1]), validate=True)
    except binascii.Error as exc:
        raise _malformed(f"the text between the lines is not base64 ({exc})") from None


def _parse(blob: bytes) -> _Parts:
    reader = Reader(blob)
    try:
        if reader.raw(len(_MAGIC)) != _MAGIC:
            raise _malformed("the data does not start with SSHSIG")
        if (version := reader.uint32()) != _VERSION:
            raise _malformed(f"version {version}; sealguard reads version {_VERSION}")
        key_blob, namespace = reader.string(), reader.text()
        reader.string()  # reserved: ignored, as the protocol says
        hash_name, signature = reader.text(), reader.string()
        reader.end()
    except (WireError, ValueError) as exc:
        raise _malformed(str(exc)) from None
    if hash_name not in _HASHES:
        raise _malformed(f'unknown hash "{hash_name}" (sha256 or sha512)')
    return _Parts(key_blob, namespace, hash_name, signature)


def _raw_signature(encoded: bytes) -> bytes:
    """The 64 signature bytes of an SSH-encoded ed25519 signature."""
    reader = Reader(encoded)
    kind, raw = reader.text(), reader.string()
    reader.end()
    if kind != ED25519 or len(raw) != _SIGNATURE_SIZE:
        raise ValueError(f"a signature of type {kind} with {len(raw)} bytes, not {ED25519}")
    return raw


def _signing_key(key_blob: bytes) -> PublicKey:
    try:
        return PublicKey.from_blob(key_blob)
    except SshKeyError as exc:
        raise SignatureRefused(
            f"the signature was made with a key sealguard cannot use ({exc.message})", "key-type"
        ) from None
