"""OpenSSH ed25519 keys: public key lines, private key files, fingerprints.

Only `ssh-ed25519` is accepted: one algorithm with deterministic signatures and no
parameters to get wrong, which is what git's SSH signing and most people's keys use today.
"""

import base64
import binascii
import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    SSHPrivateKeyTypes,
    load_ssh_private_key,
)

from sealguard.decide.wire import Reader, WireError, string
from sealguard.errors import DataError

ED25519 = "ssh-ed25519"
_OTHER_TYPES = ("ssh-rsa", "ssh-dss", "ecdsa-sha2-", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-")
_RAW_SIZE = 32
EXAMPLE_LINE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… name@host"


class SshKeyError(DataError):
    """A key that cannot be used: unreadable, malformed, locked, or not ssh-ed25519 (exit 65)."""


class PublicKey:
    """An ed25519 public key; two keys are equal when their key bytes are (comments differ)."""

    __slots__ = ("blob", "comment")

    def __init__(self, blob: bytes, comment: str = "") -> None:
        self.blob = blob  # the SSH wire encoding: string "ssh-ed25519", string 32 key bytes
        self.comment = comment

    @classmethod
    def from_blob(cls, blob: bytes, comment: str = "") -> "PublicKey":
        """Check that `blob` is an ed25519 key in the SSH wire encoding."""
        reader = Reader(blob)
        try:
            kind = reader.text()
            if kind != ED25519:
                raise SshKeyError(f"{kind} key: sealguard accepts only {ED25519} keys")
            raw = reader.string()
            reader.end()
        except WireError as exc:
            raise SshKeyError(f"malformed {ED25519} key data: {exc}") from None
        if len(raw) != _RAW_SIZE:
            raise SshKeyError(f"malformed {ED25519} key data: {len(raw)} key bytes, not 32")
        return cls(blob, comment)

    @classmethod
    def from_raw(cls, raw: bytes, comment: str = "") -> "PublicKey":
        return cls(string(ED25519) + string(raw), comment)

    @property
    def fingerprint(self) -> str:
        """As `ssh-keygen -l` prints it: SHA256 of the key blob, base64 without padding."""
        digest = base64.b64encode(hashlib.sha256(self.blob).digest()).decode()
        return "SHA256:" + digest.rstrip("=")

    def openssh(self) -> str:
        """The `authorized_keys` / allowed-signers line for this key."""
        line = f"{ED25519} {base64.b64encode(self.blob).decode()}"
        return f"{line} {self.comment}" if self.comment else line

    def verifies(self, signature: bytes, data: bytes) -> bool:
        """Whether the raw 64-byte ed25519 `signature` is this key's signature over `data`."""
        key = Ed25519PublicKey.from_public_bytes(self.blob[-_RAW_SIZE:])
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.blob == self.blob

    def __hash__(self) -> int:
        return hash(self.blob)

    def __repr__(self) -> str:
        return f"PublicKey({self.fingerprint} {self.comment!r})"


def parse_public_key(line: str) -> PublicKey:
    """An OpenSSH public key line, `ssh-ed25519 AAAA… comment` (the comment is optional)."""
    fields = line.split(maxsplit=2)
    if not fields:
        raise SshKeyError(f"empty key; expected an OpenSSH public key line: {EXAMPLE_LINE}")
    kind = fields[0]
    if kind != ED25519:
        if kind.startswith(_OTHER_TYPES):
            raise SshKeyError(f"{kind} key: sealguard accepts only {ED25519} keys")
        raise SshKeyError(f'"{kind}" is not a key type; expected a line like: {EXAMPLE_LINE}')
    if len(fields) < 2:
        raise SshKeyError(f"{ED25519} without key data; expected a line like: {EXAMPLE_LINE}")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except binascii.Error:
        raise SshKeyError(f"the key data of the {ED25519} key is not base64") from None
    return PublicKey.from_blob(blob, fields[2].strip() if len(fields) > 2 else "")


def public_key_of(private_key: Ed25519PrivateKey, comment: str = "") -> PublicKey:
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return PublicKey.from_raw(raw, comment)


def load_private_key(path: Path, passphrase: str | bytes | None = None) -> Ed25519PrivateKey:
    """An OpenSSH private key file as ssh-keygen writes it, unlocked with `passphrase` if it
    has one (a passphrase given for a key without one is ignored, as ssh-keygen does)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SshKeyError(f"{path}: cannot read the key: {exc.strerror or exc}") from None
    secret = passphrase.encode() if isinstance(passphrase, str) else passphrase
    try:
        key = _unlock(data, secret)
    except TypeError:  # cryptography's way of saying the key is locked
        raise SshKeyError(f"{path}: the key is protected by a passphrase; give it") from None
    except ValueError as exc:
        if secret and "checksum" in str(exc):
            raise SshKeyError(f"{path}: wrong passphrase for the key") from None
        raise SshKeyError(f"{path}: not an OpenSSH private key ({exc})") from None
    except UnsupportedAlgorithm as exc:
        raise SshKeyError(f"{path}: cannot unlock the key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        kind = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).split()[0]
        raise SshKeyError(f"{path}: {kind.decode()} key: sealguard signs only with {ED25519} keys")
    return key


def _unlock(data: bytes, secret: bytes | None) -> SSHPrivateKeyTypes:
    try:
        return load_ssh_private_key(data, secret)
    except TypeError:
        if secret is None:
            raise
        return load_ssh_private_key(data, None)  # the key has no passphrase
