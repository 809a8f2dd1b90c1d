"""Checkpoints in the C2SP tlog-checkpoint format, signed as C2SP signed notes with Ed25519.

    <origin>
    <tree size, decimal>
    <root hash, base64>
    <blank line>
    — <key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>

The key id is the first 4 bytes of SHA-256(key name || 0x0A || type || public key), where the
type is 0x01 for the log's own Ed25519 signature and 0x04 for a witness's cosignature
(C2SP tlog-cosignature); a reader ignores signature lines whose name and key id it does not know.
"""

import base64
import binascii
import functools
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space
ED25519 = b"\x01"
COSIGNATURE_V1 = b"\x04"


class NoteError(ValueError):
    """A checkpoint that cannot be read."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    text: str  # the signed body, ending with a newline
    signatures: tuple[tuple[str, bytes, bytes], ...]  # (key name, key id, signature)

    def note(self) -> str:
        return self.text + "\n" + self.signature_lines()

    def signature_lines(self, start: int = 0) -> str:
        """The signature lines from the `start`-th on, each ending with a newline."""
        return "".join(
            f"{SIGNATURE_PREFIX}{name} {base64.b64encode(kid + sig).decode()}\n"
            for name, kid, sig in self.signatures[start:]
        )


def key_id(name: str, public: bytes, kind: bytes = ED25519) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + kind + public).digest()[:4]


def verifier_key(name: str, public: bytes, kind: bytes = ED25519) -> str:
    """The signed-note verifier key string: <name>+<hex key id>+<base64(type || key)>."""
    kid = key_id(name, public, kind).hex()
    return f"{name}+{kid}+{base64.b64encode(kind + public).decode()}"


def parse_verifier_key(text: str, kind: bytes = ED25519) -> tuple[str, bytes]:
    try:
        name, kid, data = text.strip().split("+", 2)  # the base64 key may hold "+"
        raw = base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        raise NoteError("not a verifier key '<name>+<key id>+<base64 key>'") from None
    if raw[:1] != kind or len(raw) != 33 or key_id(name, raw[1:], kind).hex() != kid:
        raise NoteError("the verifier key is not an Ed25519 key of its type matching its key id")
    return name, raw[1:]


def body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign(origin: str, size: int, root: bytes, name: str, key: Ed25519PrivateKey) -> Checkpoint:
    text = body(origin, size, root)
    public = key.public_key().public_bytes_raw()
    signature = key.sign(text.encode())
    return Checkpoint(origin, size, root, text, ((name, key_id(name, public), signature),))


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise NoteError(f"{what} is not base64") from None


def parse(note: str) -> Checkpoint:
    """Read one signed checkpoint note; raises NoteError saying what is wrong."""
    text, sep, signature_block = note.partition("\n\n")
    if not sep:
        raise NoteError("no blank line between the checkpoint and its signatures")
    lines = text.split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint needs an origin, a size and a root hash")
    origin, size_text, root_text = lines[:3]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError(f"the tree size {size_text!r} is not a decimal number")
    root = _b64(root_text, "the root hash")
    if len(root) != 32:
        raise NoteError("the root hash is not 32 bytes")
    signatures = []
    for line in signature_block.rstrip("\n").split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"not a signature line: {line[:40]!r}")
        name, _, data = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
        raw = _b64(data, "a signature")
        if len(raw) < 5:
            raise NoteError("a signature line must hold a 4-byte key id and a signature")
        signatures.append((name, raw[:4], raw[4:]))
    return Checkpoint(origin, int(size_text), root, text + "\n", tuple(signatures))


@functools.lru_cache(maxsize=65536)
def verifies(public: bytes, signature: bytes, message: bytes) -> bool:
    """Ed25519 verification; remembered, as a history is checked again and again."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def signed_by(checkpoint: Checkpoint, name: str, public: bytes) -> bool:
    """True when a signature of `name`'s key over the exact text verifies."""
    wanted = key_id(name, public)
    for signer, kid, signature in checkpoint.signatures:
        if signer == name and kid == wanted:
            return verifies(public, signature, checkpoint.text.encode())
    return False


def split_history(text: str) -> list[str]:
    """The notes of a checkpoint history, where each note is followed by a blank line.

    A last note cut short by a crash comes back as it is, for `parse` to refuse.
    """
    notes: list[str] = []
    block: list[str] = []
    for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
        if line == "" and block and block[-1].startswith(SIGNATURE_PREFIX):
            notes.append("\n".join(block) + "\n")
            block = []
        else:
            block.append(line)
    if block:
        notes.append("\n".join(block) + "\n")
    return notes
