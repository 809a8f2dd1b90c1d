"""Where a ledger keeps its files, and the settings it writes with."""

from dataclasses import dataclass
from pathlib import Path

LOG_NAME = "GOVERNANCE_LOG.ndjson"
CHECKPOINT_NAME = "checkpoint"
HISTORY_NAME = "checkpoint.history"
STATE_NAME = ".ledger-state.json"
PENDING_NAME = ".ledger-pending"
VERIFIED_NAME = ".ledger-verified"
SHIPPED_NAME = ".ledger-shipped"  # how far the fleet database holds the log (fleet/shipping.py)
INDEX_NAME = ".ledger-index"  # a folder of caches recomputable from the log (ledger/journal.py)
KEY_NAME = "keys/log_ed25519.pem"


NOT_SEALED = (
    "{command} needs a sealed project and nothing is sealed here yet; "
    "run `sealguard seal` first (nothing was written)"
)


@dataclass(frozen=True)
class FleetPlace:
    """Where a log is kept in the fleet database: its URL (no password) and the log's names."""

    url: str
    project: str
    host: str
    build: str | None = None
    schedule: tuple[float, float | None] | None = None  # [schedule] every, grace (s): fleet status


@dataclass(frozen=True)
class Ledger:
    """A governance log in `folder`, its log key, an optional witness folder, and the fleet
    database it is shipped to, if any."""

    folder: Path
    key_file: Path
    witness: Path | None = None
    starts: bool = True  # may write a log's first line; a project's ledger does only for `seal`
    fleet: FleetPlace | None = None

    @classmethod
    def in_folder(
        cls, folder: Path, key_file: Path | None = None, witness: Path | None = None
    ) -> "Ledger":
        return cls(folder, key_file or folder / KEY_NAME, witness)

    @property
    def log(self) -> Path:
        return self.folder / LOG_NAME

    @property
    def checkpoint(self) -> Path:
        return self.folder / CHECKPOINT_NAME

    @property
    def history(self) -> Path:
        return self.folder / HISTORY_NAME

    @property
    def state(self) -> Path:
        return self.folder / STATE_NAME

    @property
    def pending(self) -> Path:
        return self.folder / PENDING_NAME

    @property
    def verified(self) -> Path:
        return self.folder / VERIFIED_NAME

    @property
    def shipped(self) -> Path:
        return self.folder / SHIPPED_NAME

    @property
    def index(self) -> Path:
        return self.folder / INDEX_NAME

    def own_files(self) -> set[Path]:
        """Files the ledger's own checks hold (not listed as runtime files in the log)."""
        files = {self.log, self.checkpoint, self.history, self.state, self.pending, self.key_file}
        files.add(self.verified)
        files.add(self.shipped)
        return files | {self.key_file.parent / ".gitignore"}
