"""What the pre-commit guard holds a commit to (seal/guard.py), read from the governance log:
the sealed paths, the baseline in force, and the planned change a signed decision authorised.

Every decision in the log is checked again (signatures against the sealed authority, and their
binding to the log: INV-D-06) and the baseline in force against the hash the log recorded for
it (INV-D-01); when either does not hold, no baseline covers anything: `sealguard verify`
says why. The guard writes nothing: a refused commit is the committer's business, not an act
on the governed build.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sealguard import ledger
from sealguard.config import Config
from sealguard.decide import proposals
from sealguard.decide.audit import check_decisions
from sealguard.errors import RefusedError
from sealguard.globs import GOVERNANCE_DIR
from sealguard.ledger.view import leaves
from sealguard.project import BASELINE_NAME, Project
from sealguard.seal.guard import Cover
from sealguard.seal.manifest import Entry, Manifest, parse_manifest
from sealguard.seal.versions import deployable_entries
from sealguard.state import ObservationState, fold

UNTRUSTED = "the governance log's decisions or baseline do not hold (run `sealguard verify`)"


@dataclass(frozen=True)
class Guarded:
    sealed: Callable[[str], bool]  # the paths a commit may not change without cover
    covers: list[Cover]
    trusted: bool  # False: the log's decisions or the baseline in force do not hold


BASELINE_PATH = f"{GOVERNANCE_DIR}/{BASELINE_NAME}"


def _entries(manifest: Manifest, data: bytes) -> dict[str, Entry]:
    """The baseline's entries, and the baseline file itself (`data`): it holds no entry of
    its own, yet a commit that edits it changes what every deployment is held to (INV-D-01)."""
    own = Entry(BASELINE_PATH, "file", hashlib.sha256(data).hexdigest(), 0o644)
    return {e.path: e for e in deployable_entries(manifest).entries} | {BASELINE_PATH: own}


def _planned(
    project: Project, events: list[dict[str, Any]], state: ObservationState
) -> Cover | None:
    planned = state.authorised
    if planned is None or (found := proposals.find(events, planned.proposal)) is None:
        return None
    try:
        data = found.files(project)[BASELINE_NAME].read_bytes()
    except RefusedError:
        return None  # the proposal was edited since it was decided: INV-D-04 says so
    name = f"the planned change v{planned.version} ({planned.proposal}, {planned.decision})"
    return Cover(name, _entries(parse_manifest(data, BASELINE_NAME), data))


def guarded(project: Project, config: Config) -> Guarded:
    ledger_ = project.ledger(config)
    events = ledger.read_events(ledger_.log)  # all of them: every decision is checked
    state = fold(events)
    data = project.baseline_file.read_bytes()
    in_force = _entries(parse_manifest(data, BASELINE_NAME), data)
    selector = config.selector()

    def sealed(path: str) -> bool:
        return selector.selects(path) or path in in_force  # in_force holds the baseline file

    trusted = hashlib.sha256(data).hexdigest() == state.baseline_sha256 and not check_decisions(
        project.root, events, leaves(ledger_.log)
    )
    if not trusted:
        return Guarded(sealed, [], False)
    covers = [Cover(f"the baseline in force (v{state.version})", in_force)]
    if planned := _planned(project, events, state):
        covers.append(planned)
    return Guarded(sealed, covers, True)
