"""Logs shipped to a test's fleet database, and a superuser's hand on its rows."""

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sealguard.fleet.database import connect, install
from sealguard.ledger import Ledger, append, read_events
from sealguard.ledger.compact import leaf_hashes
from sealguard.ledger.layout import FleetPlace
from sealguard.ledger.merkle import CompactRange

if TYPE_CHECKING:
    from .postgres import PgDatabase


def installed(database: "PgDatabase") -> str:
    """The database's URL, once `fleet init` made its schema."""
    with connect(database.admin_url) as conn:
        install(conn)
        conn.commit()
    return database.admin_url


def shipping(folder: Path, url: str, project: str = "calc", host: str = "h1") -> Ledger:
    """A log in `folder` whose every append ships to the database at `url`."""
    return replace(Ledger.in_folder(folder), fleet=FleetPlace(url, project, host))


def origin_of(ledger: Ledger) -> str:
    return str(read_events(ledger.log)[0]["log_key"]["origin"])


def acts(ledger: Ledger, count: int) -> Ledger:
    """`count` appends, each its own act (one checkpoint each, shipped)."""
    for n in range(count):
        append(ledger, "test_event", {"n": n, "note": f"event number {n}"})
    return ledger


def as_superuser(database: "PgDatabase", statement: str, *params: Any) -> None:
    """A statement run past the append-only triggers, as a superuser can."""
    with database.connect() as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(statement, params)


def tree_of(lines: list[bytes]) -> CompactRange:
    """The tree over `lines`, hashed here."""
    tree = CompactRange()
    for leaf in leaf_hashes(lines):
        tree.push(leaf)
    return tree
