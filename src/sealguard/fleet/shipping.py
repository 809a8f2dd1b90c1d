"""Shipping a host's log to the fleet database: after each local checkpoint, under its lock.

The local log is the spool. Each act ships the lines the database lacks, from its size to the new
checkpoint's, with that checkpoint, in one call of `sealguard.append` (one transaction). A host cut
off from the database keeps observing: the act is written and checkpointed locally, one warning
line says the database could not be reached, and the next act ships everything owed, in order.
The database accepts only the next seq, so nothing can be lost, doubled or reordered on the way.

`.ledger-shipped` (in the runtime folder) remembers how far the database held the log and where
that line starts, so that an act reads only its own lines. It is a cache: the database's answer
is the truth, and a cursor that disagrees with it is found again by reading the log.

Each shipment connects and disconnects, so that a host holds none of the server's connections
between acts minutes apart. A process that ships many acts in a row (a benchmark, a bulk build)
keeps one connection per database inside `kept_connections()`: a new connection costs the server
more than the act it carries (a backend started, the append function compiled for it;
benchmarks/fleet.py).
"""

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sealguard.errors import FleetError, SealguardError
from sealguard.exitcodes import ExitCode
from sealguard.fleet.urls import shown
from sealguard.fsio import write_atomic
from sealguard.ledger.layout import FleetPlace, Ledger
from sealguard.ledger.merkle import CompactRange, leaf_hash

CHUNK_LINES = 5_000  # lines per call when catching up: bounded memory, one transaction


class ShipRefused(SealguardError):
    """The database refused the log's lines or checkpoint (kept there as a refusal)."""

    exit_code = ExitCode.REFUSED


@dataclass(frozen=True)
class Cursor:
    origin: str
    size: int  # lines the database holds (as last answered)
    offset: int  # where line `size` starts in the log


@dataclass(frozen=True)
class Closing:
    """The local checkpoint a shipment ends with."""

    origin: str
    log_key: str  # the log's verifier key, for enrolment
    note: str  # the signed note
    root: bytes
    size: int
    end: int  # the byte offset where its last line ends


@dataclass(frozen=True)
class Shipped:
    size: int  # lines the database holds now
    sent: int  # lines this call sent


@contextlib.contextmanager
def kept_connections() -> Iterator[None]:
    """Inside, this process's shipments to one database share one connection, closed on
    leaving (fleet/sessions.py `keep_connections`; nested: the outermost's)."""
    from sealguard.fleet.sessions import keep_connections

    with keep_connections():
        yield


def read_cursor(ledger: Ledger, origin: str) -> Cursor | None:
    try:
        with open(ledger.shipped, "rb") as handle:
            value = json.loads(handle.read())
        cursor = Cursor(str(value["origin"]), int(value["size"]), int(value["offset"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return cursor if cursor.origin == origin and cursor.size >= 0 <= cursor.offset else None


def _save_cursor(ledger: Ledger, cursor: Cursor) -> None:
    data = {"origin": cursor.origin, "size": cursor.size, "offset": cursor.offset}
    with contextlib.suppress(OSError):  # a cache: the next act finds the place again
        write_atomic(ledger.shipped, json.dumps(data).encode(), durable=False)


def _offset_of(fd: int, line: int) -> int:
    """Where line `line` (0-based) starts, read from the log."""
    if line == 0:
        return 0
    seen, offset = 0, 0
    while True:
        data = os.pread(fd, 1 << 20, offset)
        if not data:
            raise ShipRefused(f"the log holds fewer than {line} lines")
        start = 0
        while True:
            found = data.find(b"\n", start)
            if found < 0:
                break
            seen += 1
            if seen == line:
                return offset + found + 1
            start = found + 1
        offset += len(data)


def _chunks(fd: int, offset: int, count: int) -> Iterator[tuple[list[bytes], int]]:
    """`count` lines from `offset`, in chunks, each with the offset after it."""
    buffer, position = b"", offset
    while count > 0:
        while buffer.count(b"\n") < min(count, CHUNK_LINES):
            data = os.pread(fd, 1 << 20, position + len(buffer))
            if not data:
                raise ShipRefused(f"the log ends before the {count} lines its checkpoint covers")
            buffer += data
        lines = buffer.split(b"\n", min(count, CHUNK_LINES))
        rest = lines.pop()
        position += len(buffer) - len(rest)
        buffer = rest
        count -= len(lines)
        yield lines, position


def _call(conn: Any, origin: str, first: int, lines: list[bytes], note: str | None) -> Any:
    return conn.execute(
        "SELECT status, reason, size FROM sealguard.append(%s, %s, %s::bytea[], %s)",
        (origin, first, lines, note),
    ).fetchone()


def _enrol(conn: Any, place: FleetPlace, origin: str, log_key: str) -> None:
    import psycopg

    try:
        status, reason, _ = conn.execute(
            "SELECT status, reason, size FROM sealguard.enrol(%s, %s, %s, %s, %s)",
            (origin, log_key, place.project, place.host, place.build),
        ).fetchone()
    except psycopg.errors.InsufficientPrivilege as exc:  # a name reserved for another role
        status, reason = 403, exc.diag.message_primary or str(exc)
    if status not in (200, 201):
        raise ShipRefused(f"{shown(place.url)} refused to keep log {origin}: {reason}")


def _held(conn: Any, place: FleetPlace, closing: Closing) -> tuple[int, list[bytes]]:
    """How many lines the database holds of the log, and its frontier; enrolled if new."""
    row = conn.execute(
        "SELECT size, frontier FROM sealguard.logs WHERE origin = %s", (closing.origin,)
    ).fetchone()
    if row is None:
        _enrol(conn, place, closing.origin, closing.log_key)
        return 0, []
    return row[0], [bytes(h) for h in row[1]]


def _start(fd: int, cursor: Cursor | None, size: int) -> int:
    """Where line `size` starts: the cursor's offset when it says so and a line starts there."""
    known = cursor is not None and cursor.size == size and cursor.offset > 0
    if known and cursor is not None and os.pread(fd, 1, cursor.offset - 1) == b"\n":
        return cursor.offset
    return _offset_of(fd, size)


class _Misread(Exception):
    """The lines read do not give the checkpoint's root over the database's tree."""


def ship(ledger: Ledger, fd: int, closing: Closing) -> Shipped:
    """Ship the log up to its checkpoint: the lines the database lacks, and the checkpoint."""
    from sealguard.fleet.sessions import over  # psycopg loads only where a fleet is set

    place = ledger.fleet
    assert place is not None
    return over(place.url, lambda conn: _ship_over(conn, ledger, fd, closing))


def _ship_over(conn: Any, ledger: Ledger, fd: int, closing: Closing) -> Shipped:
    place = ledger.fleet
    assert place is not None
    held, frontier = _held(conn, place, closing)
    if held > closing.size:
        raise ShipRefused(
            f"{shown(place.url)} holds {held} lines of log {closing.origin}, more than the "
            f"{closing.size} here: the log here was cut back"
        )
    offset = _start(fd, read_cursor(ledger, closing.origin), held)
    try:
        answer = _send(conn, Cursor(closing.origin, held, offset), frontier, fd, closing)
    except _Misread:  # the place read was wrong: read it again from the log itself
        fresh = Cursor(closing.origin, held, _offset_of(fd, held))
        try:
            answer = _send(conn, fresh, frontier, fd, closing)
        except _Misread:  # the log here is not the database's: let it say so, and keep it
            answer = _send(conn, fresh, None, fd, closing)
    if isinstance(answer, Shipped):
        _save_cursor(ledger, Cursor(closing.origin, answer.size, closing.end))
        _report_head(conn, ledger, closing.origin, answer.size)
        return answer
    raise ShipRefused(f"{shown(place.url)} refused log {closing.origin}: {answer[1]}")


def _send(
    conn: Any, cursor: Cursor, frontier: list[bytes] | None, fd: int, closing: Closing
) -> Shipped | tuple[int, str, int]:
    """One transaction: every chunk, the checkpoint with the last. With the database's
    `frontier`, the lines are first checked to give the checkpoint's root (else _Misread, and
    nothing is kept); without it, the database judges them, and keeps its refusal."""
    try:
        return _chunked(conn, cursor, frontier, fd, closing)
    except _Undone:  # a refusal after accepted chunks: all undone, then judged in one call
        lines = [line for chunk, _ in _chunks(fd, cursor.offset, closing.size - cursor.size)
                 for line in chunk]  # fmt: skip
        answer = _call(conn, cursor.origin, cursor.size, lines, closing.note)
        return (answer[0], answer[1], answer[2]) if answer[0] != 200 else Shipped(answer[2], 0)


class _Undone(Exception):
    """A chunk refused after others were accepted in the same transaction."""


def _chunked(
    conn: Any, cursor: Cursor, frontier: list[bytes] | None, fd: int, closing: Closing
) -> Shipped | tuple[int, str, int]:
    tree = CompactRange(cursor.size, frontier) if frontier is not None else None
    first, sent = cursor.size, 0
    with conn.transaction():
        for lines, after in _chunks(fd, cursor.offset, closing.size - cursor.size):
            last = first + len(lines) == closing.size
            if tree is not None:
                for line in lines:
                    tree.push(leaf_hash(line))
                if last and (tree.root() != closing.root or after != closing.end):
                    raise _Misread
            answer = _call(conn, cursor.origin, first, lines, closing.note if last else None)
            if answer[0] != 200 and first > cursor.size:  # the chunks before it must go too
                raise _Undone
            if answer[0] != 200:
                return (answer[0], answer[1], answer[2])
            first += len(lines)
            sent += len(lines)
        if first == cursor.size:  # nothing new: the checkpoint alone, when it is new
            if tree is not None and tree.root() != closing.root:
                raise _Misread
            answer = _call(conn, cursor.origin, first, [], closing.note)
            if answer[0] != 200:
                return (answer[0], answer[1], answer[2])
    return Shipped(first, sent)


def _report_head(conn: Any, ledger: Ledger, origin: str, size: int) -> None:
    """What `fleet status` shows of the log (fleet/summary.py), beside it in the database. It is
    derived data: whatever fails in making or storing it (a line the fold cannot read, a lost
    connection) is one warning, never the failure of the shipment it follows."""
    try:
        from psycopg.types.json import Jsonb

        from sealguard.fleet.summary import head

        summary = Jsonb(head(ledger, size))
        conn.execute("SELECT sealguard.report_head(%s, %s, %s)", (origin, size, summary))
    except Exception as exc:  # the lines are shipped: nothing here may undo or fail that
        said = (str(exc).strip().splitlines() or [""])[0]
        warn(f"the fleet status of log {origin} was not updated ({type(exc).__name__}: {said})")


def _said_cut_off(exc: FleetError, url: str) -> bool:
    from sealguard.fleet.sessions import cut_off

    return cut_off(exc, url)


def warn(message: str) -> None:
    print(f"sealguard: {message}", file=sys.stderr, flush=True)


def ship_quietly(ship_now: Callable[[], Shipped], where: str, url: str) -> Shipped | None:
    """Ship; a failure is one warning line, never the act's failure (the lines wait locally).
    A database out of reach is said once per session (fleet/sessions.py `cut_off`)."""
    try:
        return ship_now()
    except (FleetError, ShipRefused, OSError) as exc:
        if isinstance(exc, FleetError) and _said_cut_off(exc, url):
            return None
        text = getattr(exc, "message", None) or str(exc)
        warn(f"{text}; the log here keeps every line ({where}), the next act ships what is owed")
        return None
