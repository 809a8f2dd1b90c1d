"""Baseline versions: v1 is what `seal` made; each authorised decision may install the next.

The version in force is where it always was (BASELINE_REF.sha256 and governance/baseline/), so
every reader of the baseline keeps working. A version leaving force is first kept, byte for
byte, in governance/runtime/versions/vN/ (journaled like any runtime file, so INV-D-04 guards
it), which is where a rollback takes it back from. Installing is write-ahead: the new files are
staged in governance/.baseline.installing/, the `baseline_installed` event is journaled, then
the staged files are renamed into place; a crash after the journal is completed by the next
command that acts (`complete_install`), one before it leaves the old version in force.
"""

import hashlib
import os
import shutil
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sealguard import ledger, runtime
from sealguard.errors import BusyError, DataError, RefusedError
from sealguard.fsio import fsync_dir, sha256_of, write_atomic
from sealguard.globs import GOVERNANCE_DIR
from sealguard.lock import observer_lock
from sealguard.project import BASELINE_DIR, BASELINE_NAME, Project
from sealguard.seal.integrity import Difference
from sealguard.seal.manifest import Manifest, parse_manifest
from sealguard.state import baseline_record

STAGED = ".baseline.installing"
_OLD = ".baseline.leaving"
Files = Mapping[str, bytes | Path]  # path relative to governance/ -> content


def current_files(project: Project) -> dict[str, Path]:
    """The files of the version in force, relative to governance/."""
    found = {BASELINE_NAME: project.baseline_file}
    folder = project.governance / BASELINE_DIR
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_file():
            found[path.relative_to(project.governance).as_posix()] = path
    return found


def kept_files(project: Project, version: int, expected_sha256: str) -> dict[str, Path]:
    """The files of a version that left force; refused when they are not kept as it was."""
    folder = project.version_folder(version)
    found = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}
    manifest = found.get(BASELINE_NAME)
    if manifest is None:
        raise RefusedError(f"v{version} is not kept in {project.display(folder)}/")
    if hashlib.sha256(manifest.read_bytes()).hexdigest() != expected_sha256:
        raise RefusedError(
            f"{project.display(manifest)} is not the v{version} the log recorded; "
            "run `sealguard verify`"
        )
    # the manifest lists every file of the version (their hashes): nothing else is installed
    listed = {e.path: e.sha256 for e in read_manifest(manifest).entries}
    own = {p for p in listed if p.startswith(f"{GOVERNANCE_DIR}/{BASELINE_DIR}/")}
    for rel, path in found.items():
        if rel != BASELINE_NAME and listed.get(f"{GOVERNANCE_DIR}/{rel}") != sha256_of(path):
            raise RefusedError(
                f"{project.display(path)} is not as v{version} listed it; run `sealguard verify`"
            )
    if missing := own - {f"{GOVERNANCE_DIR}/{rel}" for rel in found}:
        raise RefusedError(f"v{version} is kept without {', '.join(sorted(missing))}")
    return found


def _archive(project: Project, ledger_: ledger.Ledger, version: int) -> None:
    folder = project.version_folder(version)
    if (folder / BASELINE_NAME).exists():
        return
    files: dict[Path, bytes | Path] = {
        folder / rel: path for rel, path in current_files(project).items()
    }
    ledger.append_many(ledger_, runtime.write_files(ledger_, files))


def _stage(project: Project, files: Files) -> Path:
    staged = project.governance / STAGED
    shutil.rmtree(staged, ignore_errors=True)  # a crash before a journal: never in force
    for rel, content in files.items():
        target = staged / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            write_atomic(target, content, durable=False)
    for path in staged.rglob("*"):
        if path.is_file():
            with path.open("rb") as stream:
                os.fsync(stream.fileno())
    fsync_dir(staged)
    return staged


def _swap(project: Project, staged: Path) -> None:
    """Put the staged version in place of the one in force."""
    governance = project.governance
    leaving = governance / _OLD
    shutil.rmtree(leaving, ignore_errors=True)
    folder = governance / BASELINE_DIR
    # only when the staged folder is still there to replace it: a crash after that rename
    # left the new folder already in place, and completing must not throw it away
    if (staged / BASELINE_DIR).exists():
        if folder.exists():
            os.replace(folder, leaving)
        os.replace(staged / BASELINE_DIR, folder)
    os.replace(staged / BASELINE_NAME, project.baseline_file)
    fsync_dir(governance)
    shutil.rmtree(leaving, ignore_errors=True)
    shutil.rmtree(staged, ignore_errors=True)


def install(
    project: Project,
    ledger_: ledger.Ledger,
    current_version: int,
    files: Files,
    fields: Mapping[str, Any],
) -> ledger.Event:
    """Keep the version in force, stage `files`, journal `baseline_installed`, swap."""
    if BASELINE_NAME not in files:
        raise DataError(f"a baseline version without its {BASELINE_NAME}")
    _archive(project, ledger_, current_version)
    staged = _stage(project, files)
    event = ledger.append(ledger_, "baseline_installed", dict(fields))
    _swap(project, staged)
    return event


def complete_install(project: Project) -> bool:
    """Finish an installation a crash cut between its journal and its swap; True when it did."""
    staged = project.governance / STAGED
    manifest = staged / BASELINE_NAME
    if not manifest.is_file() or not project.log_file.is_file():
        return False
    try:
        record = baseline_record(ledger.read_events(project.log_file))
    except DataError:
        return False
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    if record is None or record.get("type") != "baseline_installed":
        return False
    if record.get("baseline_sha256") != digest:
        return False
    try:
        in_place = hashlib.sha256(project.baseline_file.read_bytes()).hexdigest()
    except OSError:
        in_place = ""
    if in_place == digest:
        shutil.rmtree(staged, ignore_errors=True)
        return False
    _swap(project, staged)
    return True


def left_by(events: list[dict[str, Any]], decision: str) -> int | None:
    """The version in force before `decision` installed its own (None when it installed none)."""
    version = None
    for event in events:
        if event.get("type") == "baseline_sealed":
            version = 1
        elif event.get("type") == "baseline_installed":
            if event.get("decision") == decision:
                return version
            version = int(event.get("version", 0))
    return None


def complete_pending(project: Project, folder: Path) -> None:
    """For a command that only checks (`verify`): finish a cut installation first, as the log
    says it happened, so that it is not reported as a baseline nobody sealed. Left alone while
    another command holds the project (it completes it itself)."""
    if (project.governance / STAGED / BASELINE_NAME).is_file():
        with suppress(BusyError), observer_lock(folder):
            complete_install(project)


def deployable_entries(manifest: Manifest) -> Manifest:
    """A proposal's manifest without the files sealguard itself installs (governance/baseline/):
    what people deploy, and what an observation compares the tree with."""
    own = f"{GOVERNANCE_DIR}/{BASELINE_DIR}/"
    kept = tuple(e for e in manifest.entries if not e.path.startswith(own))
    return Manifest(manifest.paths, manifest.exclude, kept)


def read_manifest(path: Path) -> Manifest:
    return parse_manifest(path.read_bytes(), str(path))


def describe(differences: list[Difference], limit: int = 5) -> str:
    shown = "; ".join(f"{d.change} {d.path}" for d in differences[:limit])
    more = f" and {len(differences) - limit} more" if len(differences) > limit else ""
    return shown + more


@dataclass(frozen=True)
class VersionRecord:
    """One time a baseline version was put in force, as the log says."""

    version: int
    sha256: str
    ts: str
    decision: str | None  # None for v1 (the seal)
    proposal: str | None


def history(events: list[dict[str, Any]]) -> list[VersionRecord]:
    """Every version put in force, in log order (a rollback shows the version again)."""
    found = []
    for event in events:
        kind = event.get("type")
        if kind in ("baseline_sealed", "baseline_installed"):
            found.append(
                VersionRecord(
                    int(event.get("version", 1)), str(event.get("baseline_sha256")),
                    str(event.get("ts")), event.get("decision"), event.get("proposal"),
                )
            )  # fmt: skip
    return found


def manifest_text(project: Project, version: int, recorded: dict[int, str]) -> str:
    """A version's BASELINE_REF.sha256, from where it is kept, checked against the log."""
    if version not in recorded:
        known = ", ".join(f"v{v}" for v in sorted(recorded))
        raise RefusedError(f"v{version} was never installed (versions: {known})")
    for path in (project.baseline_file, project.version_folder(version) / BASELINE_NAME):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() == recorded[version]:
            return data.decode("utf-8", "replace")
    raise RefusedError(f"v{version} is not kept as the log recorded it; run `sealguard verify`")
