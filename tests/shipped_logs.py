"""A log shipped to a test's fleet database, as the fleet tests check, prove or tamper with it.

`shipped_log` makes the schema, then a log whose every act ships; `submit` is a host's raw call
of `sealguard.append`, which keeps a refusal for what does not extend what it holds.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sealguard.ledger import Ledger

from .fleet_logs import acts, as_superuser, installed, origin_of, shipping
from .ledger_helpers import lines_of

if TYPE_CHECKING:
    from .postgres import PgDatabase


@dataclass(frozen=True)
class ShippedLog:
    database: "PgDatabase"
    ledger: Ledger

    @property
    def url(self) -> str:
        """The superuser's URL of the database it ships to."""
        return self.database.admin_url

    @property
    def origin(self) -> str:
        return origin_of(self.ledger)

    @property
    def lines(self) -> list[bytes]:
        """Its lines as the files hold them."""
        return lines_of(self.ledger)

    def edit(self, statement: str, *params: Any) -> None:
        """A superuser's statement on its rows, past the append-only triggers."""
        as_superuser(self.database, statement, *params)


def shipped_log(
    database: "PgDatabase", folder: Path, count: int, project: str = "calc", host: str = "h1"
) -> ShippedLog:
    """`count` acts of `project` on `host`, in `folder`, each shipped to `database`."""
    return ShippedLog(database, acts(shipping(folder, installed(database), project, host), count))


def submit(conn: Any, origin: str, seq: int, lines: list[bytes]) -> int:
    """The status `sealguard.append` answers to `lines` from `seq`, sent without a note."""
    answer = conn.execute(
        "SELECT status FROM sealguard.append(%s, %s, %s::bytea[], NULL)", (origin, seq, lines)
    ).fetchone()
    assert answer is not None
    return int(answer[0])


def rewrite_history(conn: Any, ledger: Ledger) -> None:
    """Submit another line 2 (seq 1): refused, and the database keeps the refusal."""
    other = lines_of(ledger)[1].replace(b'"n":1', b'"n":9')
    assert submit(conn, origin_of(ledger), 1, [other]) == 409
