"""The last verified state of the log, kept so that the next audit checks only what is new.

Like a Certificate Transparency monitor's last verified tree head: after an audit finds the log
intact, the state records the size and byte length of the prefix it verified (up to the newest
checkpoint), the compact range of that prefix's tree (its root is the checkpoint's), the
checkpoint note itself, how much of the checkpoint history was read, and the `stat` identity
(inode, size, mtime_ns, ctime_ns) of the log and of the history at that moment. It is signed
with the log key. A later audit trusts it only as far as it can check it: the signature, the
range's root against the signed checkpoint, and both files' identity unchanged since, which
sealguard's writers keep true by carrying the identity forward after their own appends (under
the log's lock: the identity before the append must be the recorded one). Any other write to
the log or its history changes the identity (ctime cannot be set back), and the audit is full.
"""

import base64
import binascii
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.ledger import signed
from sealguard.ledger.layout import Ledger
from sealguard.ledger.merkle import CompactRange

DOMAIN = b"sealguard-verified-state/1\n"
Identity = tuple[int, int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns


def identity(path: Path) -> Identity | None:
    """The file's stat identity, or None when it is missing."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def fd_identity(fd: int) -> Identity:
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class State:
    lines: int  # verified lines: the size of the newest checkpoint at the time
    length: int  # their byte length
    range: CompactRange
    note: str  # the checkpoint note at `lines` (signed by the log key)
    history_bytes: int  # the checkpoint history read and verified, in bytes
    log: Identity | None
    history: Identity | None
    checkpoints: int  # distinct checkpoints verified so far
    witnesses: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # announced
    full_at: str = ""  # when the last full audit ran (UTC, ISO 8601)
    since_full: int = 0  # incremental audits since then

    def body(self) -> bytes:
        data = {
            "lines": self.lines,
            "bytes": self.length,
            "range": [base64.b64encode(h).decode() for h in self.range.hashes],
            "note": self.note,
            "history_bytes": self.history_bytes,
            "log": list(self.log) if self.log else None,
            "history": list(self.history) if self.history else None,
            "checkpoints": self.checkpoints,
            "witnesses": [[line, event] for line, event in self.witnesses],
            "full_at": self.full_at,
            "since_full": self.since_full,
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _identity(value: Any) -> Identity | None:
    if value is None:
        return None
    a, b, c, d, e = (int(v) for v in value)
    return (a, b, c, d, e)


def _parse(body: bytes) -> State:
    data = json.loads(body)
    lines = int(data["lines"])
    return State(
        lines=lines,
        length=int(data["bytes"]),
        range=CompactRange(lines, [base64.b64decode(h) for h in data["range"]]),
        note=str(data["note"]),
        history_bytes=int(data["history_bytes"]),
        log=_identity(data["log"]),
        history=_identity(data["history"]),
        checkpoints=int(data["checkpoints"]),
        witnesses=[(int(line), dict(event)) for line, event in data["witnesses"]],
        full_at=str(data["full_at"]),
        since_full=int(data["since_full"]),
    )


def load(ledger: Ledger, public: bytes) -> State | None:
    """The state, when the log key signed it; None otherwise (then the audit is full)."""
    body = signed.read(ledger.verified, public, DOMAIN)
    try:
        return _parse(body) if body is not None else None
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def save(ledger: Ledger, state: State, key: Ed25519PrivateKey) -> None:
    signed.write(ledger.verified, state.body(), key, DOMAIN)


def carry(
    ledger: Ledger, before: Sequence[Identity | None], key: Ed25519PrivateKey, log_fd: int
) -> None:
    """After a sealguard append (holding the log's lock): when the log and the history were,
    just before it, exactly as the state recorded them, they still hold the verified prefix;
    record their identity now. Otherwise leave the state: the next audit will be full."""
    state = load(ledger, key.public_key().public_bytes_raw())
    if state is None or (state.log, state.history) != tuple(before):
        return
    save(ledger, replace(state, log=fd_identity(log_fd), history=identity(ledger.history)), key)
