"""`sealguard seal`: hash the sealed build once and write BASELINE_REF.sha256.

A baseline is written only where none was ever sealed; replacing one is a governed act.
"""

import hashlib
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sealguard import ledger
from sealguard.config import Config, error_at
from sealguard.decide.authority import parse_authority
from sealguard.errors import DataError, RefusedError
from sealguard.fsio import fsync_dir, sha256_of, write_atomic
from sealguard.globs import GOVERNANCE_DIR, make_selector
from sealguard.ledger.layout import CHECKPOINT_NAME, LOG_NAME
from sealguard.names import escape
from sealguard.probes.run import ProbeEvidence, run_probe
from sealguard.project import AUTHORITY_NAME, BASELINE_DIR, CONFIG_NAME, Project
from sealguard.seal import behaviour
from sealguard.seal import progress as steps
from sealguard.seal.hashing import Progress, hash_paths
from sealguard.seal.integrity import FileState
from sealguard.seal.manifest import Entry, Manifest, render_manifest
from sealguard.seal.scan import scan
from sealguard.seal.settings import SEALED_CONFIG
from sealguard.state import baseline_record

STAGED_NAME = ".BASELINE_REF.sha256.sealing"
NO_PROBE = (
    "no [[probe]] is configured, so observation would watch files only; add a [[probe]] "
    "(README: Probes), or set `files_only = true` in [seal] if that is what you mean"
)


@dataclass(frozen=True)
class SealReport:
    baseline_sha256: str
    files: int
    symlinks: int
    bytes: int
    event: ledger.Event
    hash_seconds: float = 0.0  # hashing the sealed tree, once
    probe_seconds: tuple[tuple[str, float], ...] = ()  # each probe's run, by name


def _started(path: Path) -> bool:
    """A log that holds a line, or any other file that exists. An empty log is what a seal
    killed before its first line leaves: not a sealing."""
    try:
        return path.stat().st_size > 0 or path.name != LOG_NAME
    except FileNotFoundError:
        return False


def _refuse_if_sealed(project: Project) -> None:
    ledger_files = (project.log_file, project.runtime / CHECKPOINT_NAME)
    for existing in (project.baseline_file, *ledger_files):
        if _started(existing):
            raise RefusedError(
                f"{project.display(existing)} already exists: this build was sealed before. "
                "A new baseline needs an Architect's decision; seal will not overwrite it"
            )


def _check_globs_select(root: Path, config: Config, present: list[FileState]) -> None:
    for index, pattern in enumerate(config.seal.paths):
        one = make_selector([pattern], config.seal.exclude)
        if not any(one.selects(state.path) for state in present):
            hint = (
                f' (for a folder, write "{pattern.rstrip("/")}/**")' if "*" not in pattern else ""
            )
            raise error_at(
                root / GOVERNANCE_DIR / CONFIG_NAME,
                ["seal", "paths", index],
                f'"{pattern}" selects no file{hint}',
            )


def _observe(
    root: Path, present: list[FileState], jobs: int, progress: Progress | None
) -> list[FileState]:
    """The full state (hash, mode, target) of every present path."""
    files = [s.path for s in present if s.kind == "file"]
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        states = hash_paths(root_fd, files, jobs, progress)
        others = [s for s in present if s.kind != "file"]
        return states + [_symlink(root_fd, s) if s.kind == "symlink" else s for s in others]
    finally:
        os.close(root_fd)


def _entry(state: FileState) -> Entry:
    if state.kind == "file":
        return Entry(state.path, "file", state.sha256, state.mode)
    if state.kind == "symlink":
        return Entry(state.path, "symlink", target=state.target)
    raise DataError(_unsealable(state))


def _symlink(root_fd: int, state: FileState) -> FileState:
    try:
        return FileState(state.path, "symlink", target=os.readlink(state.path, dir_fd=root_fd))
    except OSError as exc:
        return FileState(state.path, "unreadable", error=exc.strerror or str(exc))


def _unsealable(state: FileState) -> str:
    why = {
        "special": "is a special file (device, FIFO or socket); exclude it",
        "unreadable": f"cannot be read ({state.error}); a baseline must hold every sealed file",
        "missing": "vanished while sealing; seal a build that is not changing",
        "directory": "became a directory while sealing; seal a build that is not changing",
    }[state.kind]
    return f"{escape(state.path)}: {why}"


def _tree_entries(
    root: Path, config: Config, jobs: int, progress: Progress | None, step: str = "hashing"
) -> tuple[list[Entry], int]:
    present = scan(root, config.selector())
    _check_globs_select(root, config, present)
    states = _observe(root, present, jobs, progress or steps.hashing(step)(len(present)))
    return [_entry(state) for state in states], sum(s.size for s in states)


def _governance_entry(governance: Path, path: Path) -> Entry:
    """A file of sealguard's own folder, named as in the project (`governance/…`)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    return Entry(
        f"{GOVERNANCE_DIR}/{path.relative_to(governance).as_posix()}", "file", sha256_of(path), mode
    )


def _timed_runs(
    root: Path, config: Config, work: Path
) -> tuple[list[ProbeEvidence], tuple[tuple[str, float], ...]]:
    """Every probe run once, with how long each took."""
    hidden = config.channels.secret_variables()
    evidence, seconds = [], []
    for probe in config.probe:
        started = time.perf_counter()
        with steps.probe(probe.name):
            evidence.append(run_probe(probe, root, work, None, hidden))
        seconds.append((probe.name, time.perf_counter() - started))
    return evidence, tuple(seconds)


def _probe_baseline(
    root: Path, config: Config, entries: list[Entry], jobs: int, out: Path
) -> tuple[list[Path], tuple[tuple[str, float], ...]]:
    """Run every probe once; refuse unless each passes cleanly and leaves the sealed tree alone.
    The behaviour baseline is written under `out`/baseline/. Returns its files and each
    probe's time."""
    if not config.probe:
        return [], ()
    stale = out / BASELINE_DIR
    if stale.exists() and any(stale.iterdir()):
        shown = stale.relative_to(root) if stale.is_relative_to(root) else stale
        raise RefusedError(
            f"{shown}/ already holds files that were never sealed; remove them first"
        )
    work = Path(tempfile.mkdtemp(prefix="sealguard-seal-"))
    evidence, seconds = _timed_runs(root, config, work)
    for item in evidence:
        behaviour.refuse_unsound(item)
    after, _ = _tree_entries(root, config, jobs, None, "checking again")
    if after != entries:
        changed = sorted(
            {e.path for e in after} ^ {e.path for e in entries}
            | {a.path for a, b in zip(after, entries, strict=False) if a != b}
        )
        raise DataError(
            f"the probes changed the sealed tree ({', '.join(map(escape, changed[:5]))}); "
            "exclude what they write "
            f"or make them write elsewhere (evidence kept in {work})"
        )
    files = [
        path
        for probe, item in zip(config.probe, evidence, strict=True)
        for path in behaviour.record(probe, item, out)
    ]
    shutil.rmtree(work, ignore_errors=True)
    return files, seconds


@dataclass(frozen=True)
class Candidate:
    """A baseline as `seal` (or a proposal's certification run) makes it, not yet in force."""

    manifest: bytes  # what BASELINE_REF.sha256 would hold
    files: tuple[Path, ...]  # the behaviour baseline and the sealed config, under `out`
    entries: tuple[Entry, ...]  # the sealed tree (without sealguard's own files)
    bytes: int
    config_sha256: str
    authority: str | None  # AUTHORITY.toml's text, when the build has one
    hash_seconds: float = 0.0
    probe_seconds: tuple[tuple[str, float], ...] = ()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.manifest).hexdigest()

    @property
    def counts(self) -> tuple[int, int]:
        files = sum(1 for e in self.entries if e.kind == "file")
        return files, len(self.entries) - files


def candidate(
    root: Path, config: Config, jobs: int, out: Path, progress: Progress | None = None
) -> Candidate:
    """Hash the tree under `root`, run every probe once on it, and write the behaviour baseline
    and the sealed config under `out` (a folder laid out as governance/)."""
    governance = root / GOVERNANCE_DIR
    authority_file = governance / AUTHORITY_NAME
    authority = authority_file.read_text("utf-8") if authority_file.is_file() else None
    if authority is not None:
        parse_authority(authority, authority_file)  # an unusable file is refused first (78)
    started = time.perf_counter()
    entries, size = _tree_entries(root, config, jobs, progress)
    hashed = time.perf_counter() - started
    behaviour_files, probe_seconds = _probe_baseline(root, config, entries, jobs, out)
    config_file = governance / CONFIG_NAME
    # the config in force from then on (settings.py): a sealed copy, held by the manifest
    sealed_config = out / BASELINE_DIR / SEALED_CONFIG
    config_bytes = config_file.read_bytes()
    sealed_config.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(sealed_config, config_bytes)
    own = [_governance_entry(governance, config_file)]
    if authority_file.is_file():
        own.append(_governance_entry(governance, authority_file))
    own += [_governance_entry(out, p) for p in (sealed_config, *behaviour_files)]
    manifest = Manifest(tuple(config.seal.paths), tuple(config.seal.exclude), tuple(entries + own))

    return Candidate(
        render_manifest(manifest),
        (sealed_config, *behaviour_files),
        tuple(entries),
        size,
        hashlib.sha256(config_bytes).hexdigest(),
        authority,
        hashed,
        probe_seconds,
    )


def _install(project: Project, staged: Path) -> None:
    os.replace(staged, project.baseline_file)
    fsync_dir(project.governance)


def complete_interrupted(project: Project) -> SealReport | None:
    """Finish a seal killed between its journal and its rename: the staged baseline is the
    one the log recorded as sealed, and none is in place. Returns the sealing, or None."""
    staged = project.governance / STAGED_NAME
    if project.baseline_file.exists() or not staged.is_file() or not project.log_file.is_file():
        return None
    try:
        record = baseline_record(ledger.read_events(project.log_file))
    except DataError:
        return None
    if record is None or record.get("baseline_sha256") != sha256_of(staged):
        return None
    _install(project, staged)
    files, symlinks = int(record.get("files", 0)), int(record.get("symlinks", 0))
    return SealReport(record["baseline_sha256"], files, symlinks, 0, record)


def seal(
    project: Project, config: Config, jobs: int, progress: Progress | None = None
) -> SealReport:
    """Seal the build: the tree, the config, and (with probes) the behaviour baseline."""
    if completed := complete_interrupted(project):
        return completed  # the sealing the log already holds, now in place
    _refuse_if_sealed(project)
    if not config.probe and not config.seal.files_only:
        raise error_at(project.config_file, ["seal"], NO_PROBE)
    made = candidate(project.root, config, jobs, project.governance, progress)
    # staged, journaled, then renamed into place: a crash before the journal leaves no baseline
    # (so nothing "sealed" without its log, and `seal` can run again), one after it a rename
    # that the next `seal` completes
    staged = project.governance / STAGED_NAME
    write_atomic(staged, made.manifest)
    files, symlinks = made.counts
    event = ledger.append(
        project.ledger(config, start=True),
        "baseline_sealed",
        {
            "baseline": project.display(project.baseline_file),
            "baseline_sha256": made.sha256,
            "files": files,
            "symlinks": symlinks,
            "probes": [behaviour.summary(project.governance, p.name) for p in config.probe],
            "config": f"{GOVERNANCE_DIR}/{BASELINE_DIR}/{SEALED_CONFIG}",
            "config_sha256": made.config_sha256,
            "authority": made.authority,
        },
    )
    _install(project, staged)
    return SealReport(
        made.sha256, files, symlinks, made.bytes, event, made.hash_seconds, made.probe_seconds
    )
