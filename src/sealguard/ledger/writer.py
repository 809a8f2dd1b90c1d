"""Appending to the governance log: one locked write, fsync, then a signed checkpoint.

Under an exclusive flock on the log: catch the tree up with the log (a cache holds its compact
range), account for a torn tail, write every new line in one os.write on the O_APPEND
descriptor, fsync, then publish a checkpoint (history, then the `checkpoint` file, then the
witness). An event counts as written once the fsync has returned. Nothing is ever truncated,
rewritten or retried.
"""

import base64
import fcntl
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.errors import EvidenceWriteError, IntegrityError
from sealguard.fsio import append_synced, fsync_dir, write_atomic
from sealguard.ledger import note, pending
from sealguard.ledger.canonical import encode_event
from sealguard.ledger.keys import create_key, load_key, origin_for, public_bytes
from sealguard.ledger.layout import Ledger
from sealguard.ledger.merkle import CompactRange, leaf_hash

Event = dict[str, Any]
CHUNK = 1 << 20


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Tree:
    """The log as the writer sees it: the tree over complete lines, and what follows them."""

    range: CompactRange
    end: int  # byte offset just past the last complete line
    fragment: bytes = b""  # bytes after the last newline (a torn write)
    published_end: int = -1  # byte offset where the lines past the last checkpoint begin


def _load_cache(ledger: Ledger, fd: int, size: int, published: int) -> tuple[CompactRange, int]:
    """The cached tree, if it fits the log's bytes; else an empty tree at offset 0."""
    try:
        data = json.loads(ledger.state.read_bytes())
        tree = CompactRange(data["size"], [base64.b64decode(h) for h in data["range"]])
        end = int(data["bytes"])
    except (OSError, ValueError, KeyError, TypeError):
        return CompactRange(), 0
    if end > size:
        raise IntegrityError(
            f"{ledger.log}: the log is {size} bytes, shorter than the {end} bytes "
            "sealguard last wrote: TRUNCATION; nothing was appended"
        )
    if tree.size > published or (end and os.pread(fd, 1, end - 1) != b"\n"):
        return CompactRange(), 0  # the log changed under the cache; rebuild the cache from the log
    return tree, end


def _save_cache(ledger: Ledger, tree: _Tree) -> None:
    """A cache only (checked and rebuilt on need), so it is not fsynced."""
    data = {
        "size": tree.range.size,
        "bytes": tree.end,
        "range": [base64.b64encode(h).decode() for h in tree.range.hashes],
    }
    write_atomic(ledger.state, json.dumps(data).encode(), durable=False)


def _catch_up(ledger: Ledger, fd: int, published: int) -> _Tree:
    """The tree over the log's complete lines, noting where the unpublished ones begin."""
    size = os.fstat(fd).st_size
    tree_range, end = _load_cache(ledger, fd, size, published)
    tree = _Tree(tree_range, end)
    pending_bytes, offset = b"", end
    while offset < size:
        chunk = os.pread(fd, min(CHUNK, size - offset), offset)
        offset += len(chunk)
        lines = (pending_bytes + chunk).split(b"\n")
        pending_bytes = lines.pop()
        for line in lines:
            if tree.range.size == published:
                tree.published_end = tree.end
            tree.range.push(leaf_hash(line))
            tree.end += len(line) + 1
    if tree.range.size == published:
        tree.published_end = tree.end
    tree.fragment = pending_bytes
    return tree


def _published(ledger: Ledger) -> int:
    """The size of the latest checkpoint; refuses to go on when it cannot be read."""
    try:
        return note.parse(ledger.checkpoint.read_text(encoding="utf-8")).size
    except FileNotFoundError:
        return 0
    except (OSError, note.NoteError, UnicodeDecodeError) as exc:
        raise IntegrityError(
            f"{ledger.checkpoint}: unreadable checkpoint ({exc}); nothing was appended"
        ) from None


def _unpublished(fd: int, tree: _Tree) -> bytes:
    """Every byte after the last checkpointed line: whole lines and any torn fragment."""
    start = tree.published_end
    return os.pread(fd, tree.end + len(tree.fragment) - start, start) if start >= 0 else b""


def _check_published(
    ledger: Ledger, tree: _Tree, published: int, tail: bytes, public: bytes
) -> None:
    """Bytes past the last checkpoint must be ones the last writer announced (a crash)."""
    if published > tree.range.size:
        raise IntegrityError(
            f"{ledger.log}: the log holds {tree.range.size} lines but its checkpoint covers "
            f"{published}: TRUNCATION; nothing was appended"
        )
    if tail:
        intent = pending.read(ledger, public)
        if intent is None or not intent.covers(published, tree.published_end, tail):
            raise IntegrityError(
                f"{ledger.log}: {len(tail)} bytes after line {published} (the last checkpoint) "
                "were "
                "not announced by a sealguard writer: they will not be signed; nothing was appended"
            )


def _key(ledger: Ledger, first: bool) -> Ed25519PrivateKey:
    if first and not ledger.key_file.exists():
        return create_key(ledger.key_file)
    return load_key(ledger.key_file)


def _write_durably(ledger: Ledger, fd: int, payload: bytes) -> None:
    try:
        written = os.write(fd, payload)
    except OSError as exc:
        raise EvidenceWriteError(
            f"{ledger.log}: cannot write the log ({exc.strerror}); nothing was written"
        ) from None
    if written != len(payload):
        raise EvidenceWriteError(
            f"{ledger.log}: short write ({written} of {len(payload)} bytes); stopped, not retried: "
            "the next append records the partial line as a torn tail"
        )
    try:
        os.fsync(fd)
    except OSError as exc:
        raise EvidenceWriteError(
            f"{ledger.log}: fsync failed ({exc.strerror}); stopped, not retried: "
            "the event may not be on disk and does not count as written"
        ) from None


def _publish(ledger: Ledger, checkpoint: note.Checkpoint) -> None:
    """History first, then the latest-checkpoint file, then the witness."""
    text = checkpoint.note()
    try:
        append_synced(ledger.history, text.encode() + b"\n")
        write_atomic(ledger.checkpoint, text.encode())
    except OSError as exc:
        raise EvidenceWriteError(
            f"{ledger.folder}: the event is written but its checkpoint is not ({exc})"
        ) from None
    if ledger.witness is None:
        return
    try:
        ledger.witness.mkdir(parents=True, exist_ok=True)
        append_synced(ledger.witness / "checkpoint.history", text.encode() + b"\n")
        write_atomic(ledger.witness / "checkpoint", text.encode())
        fsync_dir(ledger.witness)
    except OSError as exc:
        raise EvidenceWriteError(
            f"{ledger.witness}: the event is written and checkpointed locally, but the witness "
            f"could not be updated ({exc.strerror or exc}); the next append tries again"
        ) from None


def _torn_tail_event(tree: _Tree) -> dict[str, Any]:
    return {
        "fragment": {
            "line": tree.range.size,
            "offset": tree.end,
            "length": len(tree.fragment),
            "sha256": hashlib.sha256(tree.fragment).hexdigest(),
        }
    }


def _lines_for(
    tree: _Tree, items: Sequence[tuple[str, Mapping[str, Any]]], origin: str, public: bytes
) -> tuple[list[bytes], list[Event]]:
    """The new lines (a torn fragment first closed and accounted for), pushed onto the tree."""
    payload: list[bytes] = []
    events: list[Event] = []
    if tree.fragment:
        payload.append(b"\n")
        items = [("torn_tail", _torn_tail_event(tree)), *items]
        tree.range.push(leaf_hash(tree.fragment))
        tree.end += len(tree.fragment) + 1
    for event_type, fields in items:
        event: Event = {**fields, "seq": tree.range.size, "ts": utc_now(), "type": event_type}
        if tree.range.size == 0:
            event["log_key"] = {
                "algorithm": "Ed25519",
                "origin": origin,
                "verifier_key": note.verifier_key(origin, public),
            }
        line = encode_event(event)
        tree.range.push(leaf_hash(line))
        tree.end += len(line) + 1
        payload.append(line + b"\n")
        events.append(event)
    return payload, events


def append_many(ledger: Ledger, items: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Event]:
    """Append events in one locked write and one checkpoint; returns them as written."""
    ledger.folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(ledger.log, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        published = _published(ledger)
        tree = _catch_up(ledger, fd, published)
        key = _key(ledger, first=tree.range.size == 0 and not tree.fragment)
        public = public_bytes(key)
        tail = _unpublished(fd, tree)
        _check_published(ledger, tree, published, tail, public)
        origin = origin_for(public)
        payload, events = _lines_for(tree, items, origin, public)
        # announce, signed, every byte past the last checkpoint before writing, so that a crash
        # between the write and the checkpoint leaves bytes the next writer can vouch for
        intent = pending.Intent(published, tree.published_end, tail + b"".join(payload))
        try:
            pending.record(ledger, intent, key)
        except OSError as exc:
            raise EvidenceWriteError(
                f"{ledger.pending}: cannot record the write about to happen "
                f"({exc.strerror or exc}); "
                "nothing was written"
            ) from None
        _write_durably(ledger, fd, b"".join(payload))
        _publish(ledger, note.sign(origin, tree.range.size, tree.range.root(), origin, key))
        tree.fragment = b""
        _save_cache(ledger, tree)
        return events
    finally:
        os.close(fd)


def append(ledger: Ledger, event_type: str, fields: Mapping[str, Any]) -> Event:
    """Append one event; it counts as written when this returns."""
    return append_many(ledger, [(event_type, fields)])[-1]
