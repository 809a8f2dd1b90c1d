"""The fleet ledger in PostgreSQL (README: The fleet ledger). psycopg is imported only by the
modules that talk to the database, and only where a fleet database is configured."""

import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def session(url: str | None) -> Iterator[None]:
    """One command's work on the fleet database at `url` (fleet/sessions.py `session`: one
    connection, a database out of reach said once); nothing where none is configured."""
    if url is None:
        yield
        return
    from sealguard.fleet.sessions import session as database_session

    with database_session():
        yield


def release() -> None:
    """Close the connections the session keeps; its next use opens another. A probe may run for
    minutes: the server's connection slot is not held meanwhile (1,000 hosts observing would
    hold hundreds). Nothing to do where psycopg was never loaded."""
    sessions = sys.modules.get("sealguard.fleet.sessions")
    if sessions is not None:
        sessions.release()
