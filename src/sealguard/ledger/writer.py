"""Appending to the governance log: one locked write, fsync, then a signed checkpoint.

Under an exclusive flock on the log: catch the tree up with the log (a cache holds its compact
range), account for a torn tail, reach the witness (enrolling a log it does not know), write
every new line in one os.write on the O_APPEND descriptor, fsync, then publish a checkpoint
(history, then the `checkpoint` file) and submit it to the witness with a consistency proof.
An event counts as written once the fsync has returned; a witness's refusal never undoes it.
Nothing is ever truncated, rewritten or retried, and no file is opened through a symlink.

One act (an observation, a decision, a delivery round) may append several times: inside
`one_checkpoint(ledger)`, each append writes, fsyncs and announces its lines as usual, but the
signed checkpoint is published once, after the act's last line. Until then the lines are what a
crash between a write and its checkpoint leaves: announced, so the next writer vouches for them.
"""

import base64
import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.errors import EvidenceWriteError, IntegrityError, LedgerFileError, UsageError
from sealguard.fleet import shipping
from sealguard.fsio import write_atomic
from sealguard.ledger import anchor, files, note, pending, verified
from sealguard.ledger.canonical import encode_event
from sealguard.ledger.clock import utc_now
from sealguard.ledger.keys import create_key, load_key, origin_for, public_bytes
from sealguard.ledger.layout import NOT_SEALED, Ledger
from sealguard.ledger.merkle import CompactRange, Nodes, leaf_hash

Event = dict[str, Any]
CHUNK = 1 << 20
HISTORY_TAIL = 1 << 16  # bytes read back from the end of checkpoint.history: many notes


@dataclass
class _Tree:
    """The log as the writer sees it: the tree over complete lines, and what follows them."""

    range: CompactRange
    end: int  # byte offset just past the last complete line
    fragment: bytes = b""  # bytes after the last newline (a torn write)
    published_end: int = -1  # byte offset where the lines past the last checkpoint begin
    published: int = -1  # the size of the last checkpoint, where `published_end` is


def _line_end(fd: int, offset: int) -> bool:
    return offset == 0 or os.pread(fd, 1, offset - 1) == b"\n"


def _load_cache(ledger: Ledger, fd: int, published: int, public: bytes) -> _Tree:
    """The cached tree, if it fits the log's bytes; else an empty tree at offset 0.

    A cache past the last checkpoint (an act's lines, awaiting its one checkpoint) is used only
    when the lines after that checkpoint begin where the writer's signed announcement says:
    every byte from there is then checked against it (`_check_published`), so a cache edited
    to say otherwise is rebuilt from the log, never believed."""
    size = os.fstat(fd).st_size
    try:
        data = json.loads(files.read_bytes(ledger.state))
        tree = CompactRange(data["size"], [base64.b64decode(h) for h in data["range"]])
        end = int(data["bytes"])
        mark_size, mark_end = (int(v) for v in data.get("published", (-1, -1)))
    except (OSError, LedgerFileError, ValueError, KeyError, TypeError):
        return _Tree(CompactRange(), 0)
    if end > size:
        raise IntegrityError(
            f"{ledger.log}: the log is {size} bytes, shorter than the {end} bytes "
            "sealguard last wrote: TRUNCATION; nothing was appended"
        )
    if not _line_end(fd, end):
        return _Tree(CompactRange(), 0)  # the log changed under the cache: rebuilt from the log
    if tree.size <= published:
        return _Tree(tree, end)
    intent = pending.read(ledger, public)
    if (
        mark_size == published
        and 0 <= mark_end <= end
        and intent is not None
        and (intent.base, intent.offset) == (published, mark_end)
    ):
        return _Tree(tree, end, published_end=mark_end, published=published)
    return _Tree(CompactRange(), 0)


def _save_cache(ledger: Ledger, tree: _Tree) -> None:
    """A cache only (checked and rebuilt on need): not fsynced, and a failure to write it stops
    nothing (something put in its place must not keep a checkpoint from the witness)."""
    data = {
        "size": tree.range.size,
        "bytes": tree.end,
        "range": [base64.b64encode(h).decode() for h in tree.range.hashes],
        "published": [tree.published, tree.published_end],
    }
    with contextlib.suppress(OSError):
        write_atomic(ledger.state, json.dumps(data).encode(), durable=False)


def _lines(fd: int, start: int, tail: list[bytes]) -> Iterator[bytes]:
    """The complete lines from byte `start` (a line start); what follows the last one goes in
    `tail`."""
    size, offset, rest = os.fstat(fd).st_size, start, b""
    while offset < size:
        chunk = os.pread(fd, min(CHUNK, size - offset), offset)
        offset += len(chunk)
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from lines
    tail.append(rest)


def _catch_up(ledger: Ledger, fd: int, published: int, public: bytes) -> _Tree:
    """The tree over the log's complete lines, noting where the unpublished ones begin."""
    tree = _load_cache(ledger, fd, published, public)
    tail: list[bytes] = []
    for line in _lines(fd, tree.end, tail):
        if tree.range.size == published:
            tree.published_end = tree.end
        tree.range.push(leaf_hash(line))
        tree.end += len(line) + 1
    if tree.range.size == published:
        tree.published_end = tree.end
    tree.published = published
    tree.fragment = tail[0]
    return tree


def _nodes_from_log(fd: int, old: int, size: int) -> Nodes:
    """Proof nodes from `old` lines to `size`, read back from the log (a witness lagging)."""
    base, leaves = CompactRange(), list[bytes]()
    for line in _lines(fd, 0, []):
        if base.size < old:
            base.push(leaf_hash(line))
        elif base.size + len(leaves) < size:
            leaves.append(leaf_hash(line))
        else:
            break
    return Nodes(base, leaves)


def _signed_note(text: str, public: bytes) -> note.Checkpoint | None:
    """The note, if the log key signed it (under whatever origin: the auditor judges that)."""
    try:
        checkpoint = note.parse(text)
    except note.NoteError:
        return None
    return checkpoint if note.signed_by(checkpoint, checkpoint.origin, public) else None


def _read_note(ledger: Ledger, public: bytes) -> note.Checkpoint | None:
    try:
        text = files.read_bytes(ledger.checkpoint).decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    return _signed_note(text, public)


def _newest_in_history(ledger: Ledger, public: bytes) -> note.Checkpoint | None:
    """The last note of the history the log key signed (read from its end)."""
    try:
        data = files.read_tail(ledger.history, HISTORY_TAIL)
    except FileNotFoundError:
        return None
    for text in reversed(note.split_history(data.decode("utf-8", "replace"))):
        if (checkpoint := _signed_note(text, public)) is not None:
            return checkpoint  # a note cut short, or by the start of the read, is passed over
    return None


def _published(ledger: Ledger, public: bytes) -> int:
    """The size of the newest checkpoint the log key signed: the `checkpoint` file's, or the
    history's newest when that file is older.

    A `checkpoint` file left behind the history (a crash between the two writes, or a rollback
    the auditor reports) is first brought up to the history's newest note, so that a crash in
    this append leaves the one state the auditor recognises as a crash's, and an older file never
    stops the INCIDENT that verification reports from being journaled. A note that is unreadable
    or not signed by the log key is passed over (the auditor reports it).
    """
    latest, newest = _read_note(ledger, public), _newest_in_history(ledger, public)
    if newest is not None and (latest is None or latest.size < newest.size):
        try:
            write_atomic(ledger.checkpoint, newest.note().encode())
        except OSError as exc:
            raise EvidenceWriteError(
                f"{ledger.checkpoint}: cannot publish the newest checkpoint again "
                f"({exc.strerror or exc}); nothing was appended"
            ) from None
        return newest.size
    return latest.size if latest is not None else 0


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


@dataclass
class _Act:
    """Appends that publish one checkpoint when the act ends."""

    folder: Path
    owed: bool = False  # lines were written that no checkpoint covers yet
    base: CompactRange | None = None  # the tree before the act's first line
    leaves: list[bytes] = field(default_factory=list)  # every leaf the act added, in order


_ACT: ContextVar[_Act | None] = ContextVar("sealguard_act", default=None)


def _act_for(ledger: Ledger) -> _Act | None:
    act = _ACT.get()
    return act if act is not None and act.folder == ledger.folder else None


@contextlib.contextmanager
def one_checkpoint(ledger: Ledger) -> Iterator[None]:
    """Every append to `ledger` inside publishes one checkpoint, after the last line.

    Nested acts belong to the outermost. When the act fails, its lines are checkpointed all the
    same (they are written); should that fail too, the first error is the one raised, and the
    lines stay announced for the next writer to publish."""
    if _ACT.get() is not None:
        yield
        return
    act = _Act(ledger.folder)
    token = _ACT.set(act)
    failed = True
    try:
        yield
        failed = False
    finally:
        _ACT.reset(token)
        if act.owed:
            try:
                _publish_owed(ledger, act)
            except (EvidenceWriteError, IntegrityError, OSError):
                if not failed:
                    raise


def _publish_owed(ledger: Ledger, act: _Act) -> None:
    """The act's checkpoint: over the log as it is now (its lines and any announced after)."""
    fd = files.open_fd(ledger.log, os.O_RDWR | os.O_APPEND)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        key = load_key(ledger.key_file)
        public = public_bytes(key)
        origin = origin_for(public)
        published = _published(ledger, public)
        tree = _catch_up(ledger, fd, published, public)
        if published == tree.range.size:
            return  # another writer's checkpoint covers the act already
        _check_published(ledger, tree, published, _unpublished(fd, tree), public)
        before = (verified.fd_identity(fd), verified.identity(ledger.history))
        checkpoint = note.sign(origin, tree.range.size, tree.range.root(), origin, key)
        _publish(ledger, checkpoint)
        tree.published, tree.published_end = tree.range.size, tree.end
        verified.carry(ledger, before, key, fd)
        _ship(ledger, fd, public, checkpoint, tree.end)
        link = anchor.contact(ledger, origin, note.verifier_key(origin, public))
        if link is not None and act.base is not None:
            link.submit(
                checkpoint,
                Nodes(act.base, act.leaves),
                lambda old: _nodes_from_log(fd, old, checkpoint.size),
            )
        _save_cache(ledger, tree)
    finally:
        os.close(fd)


def _ship(ledger: Ledger, fd: int, public: bytes, checkpoint: note.Checkpoint, end: int) -> None:
    """Hand the checkpointed lines to the fleet database, if one is configured; a failure is a
    warning (the lines wait in this log, the spool, for the next act)."""
    if ledger.fleet is None:
        return
    origin = checkpoint.origin
    log_key = note.verifier_key(origin, public)
    closing = shipping.Closing(
        origin, log_key, checkpoint.note(), checkpoint.root, checkpoint.size, end
    )
    shipping.ship_quietly(
        lambda: shipping.ship(ledger, fd, closing), str(ledger.log), ledger.fleet.url
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
    """History first, then the latest-checkpoint file."""
    text = checkpoint.note()
    try:
        files.append_synced(ledger.history, text.encode() + b"\n")
        write_atomic(ledger.checkpoint, text.encode())
    except OSError as exc:
        raise EvidenceWriteError(
            f"{ledger.folder}: the event is written but its checkpoint is not ({exc})"
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
) -> tuple[list[bytes], list[Event], list[bytes]]:
    """The new lines (a torn fragment first closed and accounted for), pushed onto the tree;
    with their leaf hashes."""
    payload: list[bytes] = []
    events: list[Event] = []
    leaves: list[bytes] = []
    if tree.fragment:
        payload.append(b"\n")
        items = [("torn_tail", _torn_tail_event(tree)), *items]
        leaves.append(leaf_hash(tree.fragment))
        tree.range.push(leaves[-1])
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
        leaves.append(leaf_hash(line))
        tree.range.push(leaves[-1])
        tree.end += len(line) + 1
        payload.append(line + b"\n")
        events.append(event)
    return payload, events, leaves


def _announce(ledger: Ledger, intent: pending.Intent, key: Ed25519PrivateKey) -> None:
    try:
        pending.record(ledger, intent, key)
    except OSError as exc:
        raise EvidenceWriteError(
            f"{ledger.pending}: cannot record the write about to happen ({exc.strerror or exc}); "
            "nothing was written"
        ) from None


def _empty(log: Path) -> bool:
    try:
        return os.stat(log).st_size == 0
    except FileNotFoundError:
        return True


def append_many(ledger: Ledger, items: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Event]:
    """Append events in one locked write and one checkpoint; returns them as written."""
    if not os.path.lexists(ledger.log) and os.path.lexists(ledger.checkpoint):
        raise IntegrityError(
            f"{ledger.log}: the log is gone but its checkpoint remains: TRUNCATION; "
            "nothing was appended (no new log is started over a lost one)"
        )
    if not ledger.starts and _empty(ledger.log):
        raise UsageError(NOT_SEALED.format(command="this command"))
    ledger.folder.mkdir(parents=True, exist_ok=True)
    fd = files.open_fd(ledger.log, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        key = _key(ledger, first=os.fstat(fd).st_size == 0)
        public = public_bytes(key)
        origin = origin_for(public)
        published = _published(ledger, public)
        tree = _catch_up(ledger, fd, published, public)
        tail = _unpublished(fd, tree)
        _check_published(ledger, tree, published, tail, public)
        link = anchor.contact(ledger, origin, note.verifier_key(origin, public))
        if link is not None:
            items = [*link.announcement(), *items]
        base = tree.range.copy()
        payload, events, leaves = _lines_for(tree, items, origin, public)
        # announce, signed, every byte past the last checkpoint before writing, so that a crash
        # between the write and the checkpoint leaves bytes the next writer can vouch for
        _announce(
            ledger, pending.Intent(published, tree.published_end, tail + b"".join(payload)), key
        )
        before = (verified.fd_identity(fd), verified.identity(ledger.history))
        _write_durably(ledger, fd, b"".join(payload))
        tree.fragment = b""
        act = _act_for(ledger)
        if act is not None:  # the act publishes its one checkpoint when it ends
            contiguous = act.base is not None and act.base.size + len(act.leaves) == base.size
            if not contiguous:  # the first append, or another writer appended in between
                act.base, act.leaves = base, []
            act.owed = True
            act.leaves += leaves
            verified.carry(ledger, before, key, fd)
            _save_cache(ledger, tree)
            return events
        checkpoint = note.sign(origin, tree.range.size, tree.range.root(), origin, key)
        _publish(ledger, checkpoint)
        tree.published, tree.published_end = tree.range.size, tree.end
        verified.carry(ledger, before, key, fd)
        _ship(ledger, fd, public, checkpoint, tree.end)
        if link is not None:
            link.submit(
                checkpoint,
                Nodes(base, leaves),
                lambda old: _nodes_from_log(fd, old, checkpoint.size),
            )
        _save_cache(ledger, tree)
        return events
    finally:
        os.close(fd)


def ship_owed(ledger: Ledger) -> "shipping.Shipped":
    """Ship to the fleet database what it lacks up to the last checkpoint, under the log's lock
    (`sealguard fleet push`); a failure is raised, not warned."""
    if ledger.fleet is None:
        raise UsageError("no fleet database is configured here ([ledger] url in sealguard.toml)")
    if _empty(ledger.log):
        raise UsageError(NOT_SEALED.format(command="fleet push"))
    fd = files.open_fd(ledger.log, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        public = public_bytes(load_key(ledger.key_file))
        checkpoint = _read_note(ledger, public)
        if checkpoint is None:
            raise IntegrityError(f"{ledger.checkpoint}: no checkpoint signed by the log key")
        published = checkpoint.size
        tree = _catch_up(ledger, fd, published, public)
        if tree.published != published or tree.published_end < 0:
            raise IntegrityError(f"{ledger.log}: holds fewer lines than its checkpoint covers")
        closing = shipping.Closing(
            checkpoint.origin,
            note.verifier_key(checkpoint.origin, public),
            checkpoint.note(),
            checkpoint.root,
            published,
            tree.published_end,
        )
        return shipping.ship(ledger, fd, closing)
    finally:
        os.close(fd)


def append(ledger: Ledger, event_type: str, fields: Mapping[str, Any]) -> Event:
    """Append one event; it counts as written when this returns."""
    return append_many(ledger, [(event_type, fields)])[-1]
