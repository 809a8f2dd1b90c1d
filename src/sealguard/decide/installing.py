"""Installing the baseline version a decision names: the files (checked against the journal
before anything is journaled) and the `baseline_installed` event, and whether a decision puts
another AUTHORITY.toml in force (then the strictest rule applies: authority.py)."""

import hashlib
from pathlib import Path
from typing import Any

from sealguard import ledger
from sealguard.decide import proposals
from sealguard.decide.payload import Payload
from sealguard.globs import GOVERNANCE_DIR
from sealguard.project import BASELINE_DIR, BASELINE_NAME, Project
from sealguard.seal import versions
from sealguard.seal.settings import SEALED_CONFIG
from sealguard.state import ObservationState, authority_text


def _install_fields(
    version: int,
    files: dict[str, Path],
    authority: str | None,
    decision: str,
    proposal: str | None,
) -> dict[str, Any]:
    config = files.get(f"{BASELINE_DIR}/{SEALED_CONFIG}")
    return {
        "version": version,
        "baseline_sha256": hashlib.sha256(files[BASELINE_NAME].read_bytes()).hexdigest(),
        "config": f"{GOVERNANCE_DIR}/{BASELINE_DIR}/{SEALED_CONFIG}",
        "config_sha256": hashlib.sha256(config.read_bytes()).hexdigest() if config else None,
        "authority": authority,
        "decision": decision,
        "proposal": proposal,
    }


def _proposal_version(
    project: Project, events: list[dict[str, Any]], proposal_id: str, version: int, decision: str
) -> tuple[dict[str, Path], dict[str, Any]]:
    """A proposal's files (each checked against the journal) and its `baseline_installed`."""
    found = proposals.find(events, proposal_id)
    assert found is not None
    files = found.files(project)
    authority = authority_text(events) if found.kind == "accept" else found.record.get("authority")
    return files, _install_fields(version, files, authority, decision, proposal_id)


def install_proposal(
    project: Project,
    ledger_: ledger.Ledger,
    state: ObservationState,
    events: list[dict[str, Any]],
    *,
    proposal_id: str,
    version: int,
    decision: str,
) -> dict[str, Any]:
    """Put a proposal's files in force as `version`, on `decision`'s authority."""
    files, fields = _proposal_version(project, events, proposal_id, version, decision)
    return versions.install(project, ledger_, state.version, files, fields)


def version_authority(events: list[dict[str, Any]], version: int) -> str | None:
    text = None
    for event in events:
        if (event.get("type") == "baseline_sealed" and version == 1) or (
            event.get("type") == "baseline_installed" and event.get("version") == version
        ):
            text = event.get("authority")
    return text


def installation(
    project: Project, events: list[dict[str, Any]], state: ObservationState, payload: Payload
) -> tuple[dict[str, Path], dict[str, Any]] | None:
    """The files and `baseline_installed` fields of the version `payload` puts in force now
    (None when nothing is installed now); RefusedError when they are not what was signed."""
    result = payload.result
    if result is None:
        return None
    if payload.decision == "rollback":
        if result.version == state.version:
            return None  # the build is to be restored to the version in force: nothing to install
        files = versions.kept_files(project, result.version, result.baseline_sha256)
        authority = version_authority(events, result.version)
        return files, _install_fields(result.version, files, authority, payload.decision_id, None)
    if payload.decision in ("reseal", "amend") and state.mode == "OBSERVING":
        return None  # a planned change: the observation that sees it deployed installs it
    assert result.proposal is not None
    return _proposal_version(project, events, result.proposal, result.version, payload.decision_id)


def changes_authority(events: list[dict[str, Any]], payload: Payload) -> bool:
    """Whether the decision puts in force an AUTHORITY.toml other than the one in force."""
    result = payload.result
    if result is None:
        return False
    current = authority_text(events)
    if result.proposal is not None:
        found = proposals.find(events, result.proposal)
        if found is None or found.kind == "accept":
            return False
        return found.record.get("authority") != current
    return version_authority(events, result.version) != current
