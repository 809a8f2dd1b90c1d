"""The configuration in force: once a build is sealed, the one its seal journaled.

Before sealing it is `governance/sealguard.toml`. `seal` journals the file's text in the
`baseline_sealed` event, and from then on sealguard acts on that text: the file must still be
byte-identical to it (INV-D-01, checked through the baseline manifest without parsing the
file), so a broken or edited file can neither silence the checks nor re-route escalations.
A log sealed before the text was journaled falls back to the file, and when that cannot be
read, to the sealed paths of the manifest with the default escalation matrix.
"""

from sealguard import ledger
from sealguard.config import Config, SealConfig, load_config, parse_config
from sealguard.errors import ConfigError, DataError
from sealguard.manifest import parse_manifest
from sealguard.project import Project
from sealguard.state import baseline_record

SEALED_TEXT = "config_toml"  # the field of `baseline_sealed` that holds the config's text


def _sealed_text(project: Project) -> str | None:
    try:
        events = ledger.read_events(project.log_file) if project.log_file.is_file() else []
    except DataError:
        return None
    record = baseline_record(events)
    text = record.get(SEALED_TEXT) if record else None
    return text if isinstance(text, str) else None


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
    if text is not None:
        return parse_config(text, project.config_file)
    try:
        return load_config(project.config_file)
    except ConfigError:
        if not project.baseline_file.exists():
            raise
        return _from_manifest(project)
