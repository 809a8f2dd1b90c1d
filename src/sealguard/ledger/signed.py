"""Caches signed with the log key: a body line and its Ed25519 signature under a domain tag.

They hold only what can be recomputed from the log (the verified state, the digest of its
events, the runtime area's index); a reader uses one only when the log key signed it, and a
writer's failure to save one stops nothing.
"""

import base64
import binascii
import contextlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sealguard.errors import LedgerFileError
from sealguard.fsio import write_atomic
from sealguard.ledger import files


def read(path: Path, public: bytes, domain: bytes) -> bytes | None:
    """The body, when the log key signed it under `domain`; None otherwise."""
    try:
        body, _, rest = files.read_bytes(path).partition(b"\n")
        Ed25519PublicKey.from_public_bytes(public).verify(
            base64.b64decode(rest.strip(), validate=True), domain + body
        )
    except (OSError, LedgerFileError, ValueError, binascii.Error, InvalidSignature):
        return None
    return body


def write(path: Path, body: bytes, key: Ed25519PrivateKey, domain: bytes) -> None:
    """Not fsynced (a cache, checked before use); a failure to write it is passed over."""
    if b"\n" in body:
        raise ValueError("a signed cache body is one line")
    signature = base64.b64encode(key.sign(domain + body))
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, body + b"\n" + signature + b"\n", durable=False)
