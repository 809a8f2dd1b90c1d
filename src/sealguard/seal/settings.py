"""The configuration in force: once a build is sealed, the copy its seal kept.

Before sealing it is `governance/sealguard.toml`. `seal` keeps a copy of the file in
`governance/baseline/_sealguard.toml` (listed in the manifest) and journals its SHA-256 in the
`baseline_sealed` event, and from then on sealguard acts on that copy: the file must still be
byte-identical to it (INV-D-01, checked through the baseline manifest without parsing the
file), so a broken or edited file can neither silence the checks nor re-route escalations.
A log sealed before the copy was kept falls back to the file, and when that cannot be
read, to the sealed paths of the manifest with the default escalation matrix; so does a copy
that no longer has its journaled hash. (The copy is a file, not text in the log, because the log
is exported to auditors and a config may hold a literal webhook header.)
"""

import hashlib
from typing import TYPE_CHECKING

from sealguard import ledger
from sealguard.config import Config, SealConfig, load_config, parse_config
from sealguard.errors import ConfigError, DataError
from sealguard.ledger.journal import notable_events
from sealguard.project import BASELINE_DIR, Project
from sealguard.seal.manifest import parse_manifest
from sealguard.state import baseline_record

if TYPE_CHECKING:
    from sealguard.decide.authority import Authority

SEALED_CONFIG = "_sealguard.toml"  # in governance/baseline/; no probe name starts with "_"


def _events(project: Project) -> list[dict[str, object]]:
    """The events a baseline record is found among (ledger/journal.py: not every line)."""
    if not project.log_file.is_file():
        return []
    return notable_events(ledger.Ledger.in_folder(project.runtime))


def _sealed_text(project: Project) -> str | bool | None:
    """The sealed copy's text; None when the seal kept none (sealguard 0.1); False when the
    copy no longer has the hash the log recorded (an INCIDENT that verify reports)."""
    try:
        events = _events(project)
    except DataError:
        return None
    record = baseline_record(events)
    if not record or not isinstance(record.get("config_sha256"), str):
        return None
    try:
        data = (project.governance / BASELINE_DIR / SEALED_CONFIG).read_bytes()
    except OSError:
        return False
    if hashlib.sha256(data).hexdigest() != record["config_sha256"]:
        return False
    return data.decode("utf-8", "replace")


def _from_manifest(project: Project) -> Config:
    """Enough to check the invariants: the manifest's sealed paths, default everything else."""
    try:
        manifest = parse_manifest(project.baseline_file.read_bytes(), str(project.baseline_file))
        paths, exclude = list(manifest.paths), list(manifest.exclude)
    except (OSError, DataError):
        paths, exclude = ["**"], []
    return Config(seal=SealConfig(paths=paths or ["**"], exclude=exclude))


def config_in_force(project: Project) -> Config:
    """The configuration to act on (see the module's docstring); ConfigError (78) only when
    nothing is sealed and the file is missing or invalid."""
    text = _sealed_text(project)
    if text is False:
        return _from_manifest(project)
    if isinstance(text, str):
        return parse_config(text, project.config_file)
    try:
        return load_config(project.config_file)
    except ConfigError:
        if not project.baseline_file.exists():
            raise
        return _from_manifest(project)


def authority_in_force(project: Project) -> "Authority | None":
    """Who may sign decisions now: the AUTHORITY.toml journaled with the baseline in force
    (None when none was sealed); before sealing, the file, when there is one."""
    from sealguard.decide.authority import load_authority, parse_authority

    try:
        events = _events(project)
    except DataError:
        events = []
    record = baseline_record(events)
    if record is None:
        file = project.authority_file
        return load_authority(file) if file.exists() else None
    text = record.get("authority")
    return parse_authority(text, project.authority_file) if isinstance(text, str) else None
