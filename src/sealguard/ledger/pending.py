"""The signed intent a writer records before it writes: which lines it is about to append.

A crash can leave bytes in the log that no checkpoint covers yet: whole lines, or a line cut
short. They are accepted (and checkpointed by the next append) only when they are a prefix of
the bytes the last writer announced here, signed with the log key; anything else after the
last checkpoint was not written by sealguard and is refused, never signed.
"""

import base64
import binascii
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sealguard.errors import LedgerFileError
from sealguard.fsio import write_atomic
from sealguard.ledger import files
from sealguard.ledger.layout import Ledger


@dataclass(frozen=True)
class Intent:
    base: int  # the checkpointed tree size the announced bytes follow
    offset: int  # the byte offset where they start
    data: bytes  # every byte from `offset` to the end of the announced write

    def covers(self, base: int, offset: int, tail: bytes) -> bool:
        """True when `tail`, found at `offset` after `base` checkpointed lines, was announced."""
        return (base, offset) == (self.base, self.offset) and self.data.startswith(tail)


def record(ledger: Ledger, intent: Intent, key: Ed25519PrivateKey) -> None:
    body = json.dumps(
        {
            "base": intent.base,
            "offset": intent.offset,
            "data": base64.b64encode(intent.data).decode(),
        }
    )
    signature = base64.b64encode(key.sign(body.encode())).decode()
    write_atomic(ledger.pending, f"{body}\n{signature}\n".encode())


def read(ledger: Ledger, public: bytes) -> Intent | None:
    """The last recorded intent, or None when there is none or its signature fails."""
    try:
        body, signature = files.read_bytes(ledger.pending).decode().split("\n")[:2]
        Ed25519PublicKey.from_public_bytes(public).verify(
            base64.b64decode(signature), body.encode()
        )
        data = json.loads(body)
        return Intent(int(data["base"]), int(data["offset"]), base64.b64decode(data["data"]))
    except (
        OSError,
        LedgerFileError,
        ValueError,
        KeyError,
        TypeError,
        binascii.Error,
        InvalidSignature,
    ):
        return None
