"""The log key: an Ed25519 key made at the first append, kept mode 0600 and out of git."""

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.errors import IntegrityError
from sealguard.filekind import NotRegularFile, read_regular
from sealguard.fsio import write_new

GITIGNORE = "# The governance log's private key never goes into version control.\n*\n!.gitignore\n"


def create_key(key_file: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    ignore = key_file.parent / ".gitignore"
    if not ignore.exists():
        write_new(ignore, GITIGNORE.encode())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_new(key_file, pem, mode=0o600)
    os.chmod(key_file, 0o600)  # whatever the umask
    return key


def load_key(key_file: Path) -> Ed25519PrivateKey:
    try:
        data = read_regular(key_file)  # a configured path: a FIFO there must not hang appends
    except FileNotFoundError:
        raise IntegrityError(
            f"{key_file}: the log key is missing, so no checkpoint can be signed; "
            "nothing was appended (restore the key, or a person decides what happens next)"
        ) from None
    except NotRegularFile as exc:
        raise IntegrityError(
            f"{key_file}: the log key cannot be read ({exc.strerror}); nothing was appended"
        ) from None
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise IntegrityError(f"{key_file}: not an Ed25519 private key")
    return key


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def origin_for(public: bytes) -> str:
    """The log's origin line (also its key name): stable for the life of the key."""
    return "sealguard.local/log/" + hashlib.sha256(public).hexdigest()[:16]
