"""Where a governed project keeps its files (the default layout of ../shared/SPEC.md)."""

import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sealguard.errors import ConfigError, UsageError
from sealguard.globs import GOVERNANCE_DIR
from sealguard.ledger.layout import LOG_NAME, NOT_SEALED, FleetPlace, Ledger

if TYPE_CHECKING:
    from sealguard.config import Config

CONFIG_NAME = "sealguard.toml"
BASELINE_NAME = "BASELINE_REF.sha256"
AUTHORITY_NAME = "AUTHORITY.toml"  # who may sign decisions (decide/authority.py)
RUNTIME_DIR = "runtime"  # governance/runtime/: the only place sealguard writes (INV-D-04)
BASELINE_DIR = "baseline"  # governance/baseline/: the behaviour baseline and config in force


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def governance(self) -> Path:
        return self.root / GOVERNANCE_DIR

    @property
    def config_file(self) -> Path:
        return self.governance / CONFIG_NAME

    @property
    def baseline_file(self) -> Path:
        return self.governance / BASELINE_NAME

    @property
    def authority_file(self) -> Path:
        return self.governance / AUTHORITY_NAME

    @property
    def runtime(self) -> Path:
        return self.governance / RUNTIME_DIR

    def event_file(self, event_id: str) -> Path:
        """Where an observation's RUNTIME_EVENT.json is kept: in a folder per UTC day (the id
        says which), so that a day's folder holds still once the day is over and a check of
        the runtime area can pass it by (runtime_index.py). Event files written before day
        folders existed stay in `events/` (the log records each path); `saved_event_file`
        finds either."""
        day = event_id[4:12] if event_id[4:12].isdigit() else "undated"
        return self.runtime / "events" / day / f"{event_id}.json"

    def saved_event_file(self, event_id: str) -> Path:
        """The event file as written: in its day's folder, or in `events/` (older ones)."""
        dated = self.event_file(event_id)
        flat = self.runtime / "events" / f"{event_id}.json"
        return flat if not dated.exists() and flat.exists() else dated

    def snapshot_folder(self, snapshot_id: str) -> Path:
        return self.runtime / "snapshots" / snapshot_id

    def proposal_folder(self, proposal_id: str) -> Path:
        return self.runtime / "proposals" / proposal_id

    def version_folder(self, version: int) -> Path:
        """Where a baseline version's files are kept once another one is in force."""
        return self.runtime / "versions" / f"v{version}"

    def incident_folder(self, incident_id: str) -> Path:
        """Where people write an incident's report (outside the runtime area: it is theirs)."""
        return self.governance / "incidents" / incident_id

    @property
    def log_file(self) -> Path:
        return self.runtime / LOG_NAME

    def ledger(self, config: "Config", start: bool = False) -> Ledger:
        """The governance log with the key and witness the config names (paths from the root).
        Only `seal` passes `start`: before a baseline exists no other command may create the
        log (a log started by, say, a channel test made `seal` refuse the build as sealed
        before). Once one exists, a lost log is started again to journal that INCIDENT."""
        key_file = self.root / config.ledger.key_file if config.ledger.key_file else None
        witness = self.root / config.ledger.witness if config.ledger.witness else None
        starts = start or self.baseline_file.exists()
        ledger = replace(Ledger.in_folder(self.runtime, key_file, witness), starts=starts)
        settings = config.ledger
        if settings.url is None:
            return ledger
        place = FleetPlace(
            settings.url,
            settings.project or self.root.resolve().name,
            settings.host or socket.gethostname(),
            settings.build,
            (config.schedule.every_seconds, config.schedule.grace_seconds)
            if config.schedule
            else None,
        )
        return replace(ledger, fleet=place)

    @property
    def sealed(self) -> bool:
        """A baseline was put in place, or the log holds a line (what `seal` writes first)."""
        try:
            return self.baseline_file.exists() or self.log_file.stat().st_size > 0
        except FileNotFoundError:
            return False

    def require_sealed(self, command: str) -> None:
        """UsageError (64) before `seal`, for a command that needs a sealed project."""
        if not self.sealed:
            raise UsageError(NOT_SEALED.format(command=f"`{command}`"))

    def display(self, path: Path) -> str:
        """`path` relative to the project root when it is inside it, for messages."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def _governed(project: Project) -> bool:
    """A folder is a project when any of sealguard's files is there, whatever its state: a
    sealed project whose config was deleted or replaced must be found (and its checks say
    INV-D-01), never skipped for a parent project, or for none."""
    markers = (project.config_file, project.baseline_file, project.log_file)
    return any(m.exists() or m.is_symlink() for m in markers)


def find_project(start: Path, explicit: Path | None) -> Project:
    """The project at `explicit`, else the nearest parent of `start` holding the config."""
    if explicit is not None:
        root = explicit.resolve()
        if not root.is_dir():  # a wrong argument, not a wrong config: a usage error (64)
            raise UsageError(f"{explicit}: --project is not a directory")
        return Project(root)
    here = start.resolve()
    for candidate in (here, *here.parents):
        if _governed(Project(candidate)):
            return Project(candidate)
    raise ConfigError(
        f"no {GOVERNANCE_DIR}/{CONFIG_NAME} in {here} or any parent; "
        "run `sealguard init` there, or pass --project DIR"
    )
