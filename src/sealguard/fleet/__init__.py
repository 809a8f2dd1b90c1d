"""The fleet ledger in PostgreSQL (README: The fleet ledger). psycopg is imported only by the
modules that talk to the database, and only where a fleet database is configured."""

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def session(url: str | None) -> Iterator[None]:
    """One command's work on the fleet database at `url` (fleet/database.py `session`: one
    connection, a database out of reach said once); nothing where none is configured."""
    if url is None:
        yield
        return
    from sealguard.fleet.database import session as database_session

    with database_session():
        yield
