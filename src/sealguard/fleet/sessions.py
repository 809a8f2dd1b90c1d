"""One command's work on the fleet database: connections kept for it, and a database out of
reach said once (fleet/database.py opens the connections).

An observation is one `session()`: its pull of decisions, its checks and its shipments share one
connection (`over`), closed while its probes run (`release`), and a database it cannot reach is
said in one line for all of them (`cut_off`). A process that ships many acts in a row keeps one
connection per database in `keep_connections()` (a benchmark, a bulk build).
"""

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

import psycopg

from sealguard.fleet.database import Unreachable, connect, failure, open_connection

T = TypeVar("T")


class _Lost(Exception):
    """A kept connection the server closed since its last use (a restart, a timeout)."""


@dataclass
class _Kept:
    """What `keep_connections()` keeps: one autocommit connection per database, for the
    process that made them (a forked child connects on its own: it must not talk over its
    parent's socket)."""

    pid: int
    connections: dict[str, psycopg.Connection] = field(default_factory=dict)

    def over(self, url: str, work: Callable[[psycopg.Connection], T]) -> T:
        kept = self.connections.pop(url, None)
        if kept is not None:
            with contextlib.suppress(_Lost):
                return self._over(url, kept, work, reused=True)
        return self._over(url, open_connection(url, autocommit=True), work, reused=False)

    def _over(
        self, url: str, conn: psycopg.Connection, work: Callable[[psycopg.Connection], T],
        reused: bool,
    ) -> T:  # fmt: skip
        try:
            return work(conn)
        except psycopg.Error as exc:
            lost = conn.broken
            conn.close()
            if reused and lost:
                raise _Lost from None
            raise failure(url, exc) from None
        finally:
            if conn.closed:
                pass
            elif url in self.connections:  # work nested in work made another: one is kept
                conn.close()
            else:  # kept after a refusal too: the connection still serves
                self.connections[url] = conn

    def close(self) -> None:
        if self.pid == os.getpid():
            for conn in self.connections.values():
                conn.close()
        self.connections.clear()


_KEPT: ContextVar[_Kept | None] = ContextVar("sealguard_kept_connections", default=None)
_SAID: ContextVar[set[str] | None] = ContextVar("sealguard_cut_off_said", default=None)


@contextmanager
def keep_connections() -> Iterator[None]:
    """Inside, this process's work on one database shares one connection (made on first use,
    replaced once if the server closed it since its last use), closed on leaving. Nested: the
    outermost's."""
    if _KEPT.get() is not None:
        yield
        return
    kept = _Kept(os.getpid())
    token = _KEPT.set(kept)
    try:
        yield
    finally:
        _KEPT.reset(token)
        kept.close()


@contextmanager
def session() -> Iterator[None]:
    """One command's work on the database (an observation: its pull of decisions, its checks,
    its shipments): one connection (`keep_connections`), and a database out of reach said once
    in one line (`cut_off`). A session inside another says it again: once per observation."""
    token = _SAID.set(set())
    try:
        with keep_connections():
            yield
    finally:
        _SAID.reset(token)


def release() -> None:
    """Close the kept connections of this process's `keep_connections` (it stays in force: the
    next use opens another)."""
    kept = _KEPT.get()
    if kept is not None:
        kept.close()


def over(url: str, work: Callable[[psycopg.Connection], T]) -> T:
    """`work` over an autocommit connection to `url`: the kept one, inside `keep_connections`,
    else a new one closed after; every database failure as one FleetError line."""
    kept = _KEPT.get()
    if kept is not None and kept.pid == os.getpid():
        return kept.over(url, work)
    with connect(url, autocommit=True) as conn:
        return work(conn)


def said() -> set[str] | None:
    """What the session in force has said already (None: no session)."""
    return _SAID.get()


CUT_OFF = (
    "not held against the fleet database; decisions published for this host wait; the log "
    "here keeps every line, the next act ships what is owed"
)


def cut_off(exc: BaseException, url: str) -> bool:
    """Inside a session, for a database out of reach: say so once, with all it means
    (`CUT_OFF`), and True: the caller says nothing more. False for any other failure, or
    outside a session: the caller says it in its own line."""
    said = _SAID.get()
    if said is None or not isinstance(exc, Unreachable):
        return False
    if url not in said:
        said.add(url)
        print(f"sealguard: {exc.message}: {CUT_OFF}", file=sys.stderr, flush=True)
    return True
