"""A witness's cosignature on a checkpoint, in the C2SP tlog-cosignature form (Ed25519). Pure.

    — <witness name> base64(key id (4) || timestamp (8, big-endian) || Ed25519 signature (64))

The key id is SHA-256(name || 0x0A || 0x04 || public key)[:4]; the signed message is
"cosignature/v1\\ntime <timestamp>\\n" followed by the checkpoint's body. A cosignature says: as
of that time, this is the largest tree the witness has seen for the origin, and it is consistent
with every earlier one it saw.
"""

import struct
from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.ledger import note
from sealguard.ledger.note import COSIGNATURE_V1, Checkpoint


def message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def verifier_key(name: str, public: bytes) -> str:
    return note.verifier_key(name, public, COSIGNATURE_V1)


def parse_verifier_key(text: str) -> tuple[str, bytes]:
    return note.parse_verifier_key(text, COSIGNATURE_V1)


def cosign(checkpoint: Checkpoint, name: str, key: Ed25519PrivateKey, timestamp: int) -> Checkpoint:
    """The checkpoint with this witness's cosignature added."""
    public = key.public_key().public_bytes_raw()
    signature = key.sign(message(checkpoint.text, timestamp))
    kid = note.key_id(name, public, COSIGNATURE_V1)
    line = (name, kid, struct.pack(">Q", timestamp) + signature)
    return replace(checkpoint, signatures=(*checkpoint.signatures, line))


def cosigned_at(checkpoint: Checkpoint, name: str, public: bytes) -> int | None:
    """The time of a valid cosignature by `name`'s key on the checkpoint, or None."""
    wanted = note.key_id(name, public, COSIGNATURE_V1)
    for signer, kid, data in checkpoint.signatures:
        if signer != name or kid != wanted or len(data) != 72:
            continue
        (timestamp,) = struct.unpack(">Q", data[:8])
        if note.verifies(public, data[8:], message(checkpoint.text, timestamp)):
            return int(timestamp)
    return None
