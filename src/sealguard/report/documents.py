"""Writing generated documents into a folder people chose, never where sealguard keeps watch."""

from collections.abc import Mapping
from pathlib import Path

from sealguard.errors import EvidenceWriteError, RefusedError
from sealguard.fsio import write_atomic
from sealguard.globs import PathSelector
from sealguard.project import BASELINE_DIR, Project


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _refusal(project: Project, selector: PathSelector, targets: list[Path]) -> str | None:
    """Why writing `targets` would break an invariant, or None."""
    runtime = project.runtime.resolve()
    baseline = (project.governance / BASELINE_DIR).resolve()
    owned = {
        f.resolve() for f in (project.baseline_file, project.config_file, project.authority_file)
    }
    for target in targets:
        if target in owned or _inside(target, baseline):
            return (
                f"{target}: refusing to overwrite a file of the sealed governance (the baseline, "
                "the config or AUTHORITY.toml: INV-D-01); choose another file"
            )
        if _inside(target, runtime):
            return (
                f"{target.parent}: refusing to write inside {project.display(runtime)}/, which "
                "holds only what sealguard journals (INV-D-04); choose another folder"
            )
        if _inside(target, project.root) and selector.selects(
            target.relative_to(project.root).as_posix()
        ):
            return (
                f"{target}: refusing to write a sealed path: it would change the sealed "
                "build (INV-D-02); choose another folder"
            )
    return None


def refuse_target(project: Project, selector: PathSelector, target: Path) -> None:
    """Refuse (exit 4, writing nothing) a file sealguard would write where it keeps watch: the
    runtime area (the log among it), a sealed path, or the sealed governance files."""
    if refusal := _refusal(project, selector, [target.resolve()]):
        raise RefusedError(refusal)


def write_documents(
    folder: Path, documents: Mapping[str, str], project: Project, selector: PathSelector
) -> list[Path]:
    """Write each document into `folder` (created if need be); returns the files written.

    Refused (exit 4) inside governance/runtime/ or on a sealed path; one line naming the path
    and exit 74 when the folder or a file cannot be written."""
    base = folder.resolve()
    targets = [base / name for name in documents]
    if refusal := _refusal(project, selector, targets):
        raise RefusedError(refusal)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(exc.filename or folder, exc) from None
    for target, text in zip(targets, documents.values(), strict=True):
        try:
            write_atomic(target, text.encode("utf-8"))
        except OSError as exc:
            raise _unwritable(target, exc) from None
    return targets


def _unwritable(path: object, exc: OSError) -> EvidenceWriteError:
    return EvidenceWriteError(f"{path}: cannot write ({exc.strerror or exc})")
