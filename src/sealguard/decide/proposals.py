"""Proposals: exactly what a new baseline version would hold, with its diff against the one in
force. Nothing here puts anything in force; only a signed decision does (decisions.py).

Two sources (a config or AUTHORITY.toml change is a re-seal whose tree is unchanged: `amend`):
- accept: the outputs *observed* in a drift event's snapshot (never recomputed) become the
  behaviour baseline; the sealed tree and config stay as they are.
- reseal / amend: the build as it is now (or a staging copy, `--from DIR`) is hashed and every
  probe runs once on it, as a candidate certification run.

A proposal's files are kept in governance/runtime/proposals/PRO_…/ (journaled, so INV-D-04
guards them) and announced by a `proposal_made` event holding their hashes.
"""

import difflib
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sealguard import ledger, runtime
from sealguard.config import load_config
from sealguard.errors import RefusedError
from sealguard.events import iso_utc, new_id
from sealguard.fsio import sha256_of
from sealguard.globs import GOVERNANCE_DIR
from sealguard.observe import diffing
from sealguard.project import AUTHORITY_NAME, BASELINE_DIR, BASELINE_NAME, CONFIG_NAME, Project
from sealguard.seal import behaviour, versions
from sealguard.seal.manifest import Entry, Manifest, parse_manifest, render_manifest
from sealguard.seal.sealing import candidate
from sealguard.seal.settings import SEALED_CONFIG
from sealguard.state import ObservationState, authority_text

ProposalKind = Literal["accept", "reseal", "amend"]
PROPOSAL_EVENT = "proposal_made"


@dataclass(frozen=True)
class Proposal:
    """A journaled proposal, as the log holds it."""

    record: dict[str, Any]

    @property
    def proposal_id(self) -> str:
        return str(self.record["proposal_id"])

    @property
    def kind(self) -> str:
        return str(self.record["kind"])

    @property
    def baseline_sha256(self) -> str:
        return str(self.record["baseline_sha256"])

    def files(self, project: Project) -> dict[str, Path]:
        """Its baseline files (relative to governance/), each checked against the journal."""
        folder = project.proposal_folder(self.proposal_id)
        found: dict[str, Path] = {}
        for rel, digest in self.record["files"].items():
            path = folder / rel
            if not path.is_file() or sha256_of(path) != digest:
                raise RefusedError(
                    f"{project.display(path)} is not as {self.proposal_id} recorded it; "
                    "run `sealguard verify`"
                )
            found[rel] = path
        return found


def find(events: list[dict[str, Any]], proposal_id: str) -> Proposal | None:
    for event in events:
        if event.get("type") == PROPOSAL_EVENT and event.get("proposal_id") == proposal_id:
            return Proposal(event)
    return None


def journal(
    project: Project,
    ledger_: ledger.Ledger,
    proposal_id: str,
    *,
    files: dict[str, bytes | Path],
    fields: dict[str, Any],
    diff: str,
) -> Proposal:
    folder = project.proposal_folder(proposal_id)
    manifest = files[BASELINE_NAME]
    data = manifest if isinstance(manifest, bytes) else manifest.read_bytes()
    hashes = {
        rel: hashlib.sha256(c).hexdigest() if isinstance(c, bytes) else sha256_of(c)
        for rel, c in files.items()
    }
    record = {
        "proposal_id": proposal_id,
        **fields,
        "baseline_sha256": hashlib.sha256(data).hexdigest(),
        "files": hashes,
        "folder": project.display(folder),
    }
    written: dict[Path, bytes | Path] = {folder / rel: c for rel, c in files.items()}
    written[folder / "diff.txt"] = diff.encode()
    written[folder / "proposal.json"] = (
        json.dumps(record, indent=1, sort_keys=True) + "\n"
    ).encode()
    with ledger.one_checkpoint(ledger_):
        journaled = ledger.append_many(
            ledger_, [*runtime.write_files(ledger_, written), (PROPOSAL_EVENT, record)]
        )
    return Proposal(journaled[-1])


def _snapshot_file(project: Project, event: dict[str, Any], rel: str) -> Path:
    snapshot = event.get("snapshot") or {}
    path = project.root / str(snapshot.get("path", "")) / rel
    recorded = (snapshot.get("files") or {}).get(rel)
    if recorded is None or not path.is_file():
        raise RefusedError(
            f"the snapshot of {event.get('event_id')} holds no {rel} (kept by sealguard 0.3 "
            "and later); its observed outputs cannot be accepted: propose a re-seal instead "
            "(`sealguard propose`)"
        )
    if sha256_of(path) != recorded:
        raise RefusedError(
            f"{project.display(path)} is not as {event.get('event_id')} recorded it; "
            "run `sealguard verify`"
        )
    return path


def propose_accept(
    project: Project,
    ledger_: ledger.Ledger,
    state: ObservationState,
    event: dict[str, Any],
    now: datetime,
) -> Proposal:
    """The behaviour baseline observed in `event`'s snapshot, as the next version."""
    files: dict[str, bytes | Path] = dict(versions.current_files(project))
    replaced: dict[str, bytes | Path] = {}
    lines: list[str] = []
    for probe in event.get("probes", []):
        name = str(probe["name"])
        for source, target in (
            ("output.normalized", "output.normalized"),
            (behaviour.OBSERVED, "probe.json"),
        ):
            rel = f"{BASELINE_DIR}/{name}/{target}"
            replaced[rel] = _snapshot_file(project, event, f"{name}/{source}")
        diff_file = _snapshot_file(project, event, f"{name}/diff.txt")
        lines.append(
            f"probe {name}: verdict {probe.get('baseline_verdict')} -> {probe.get('verdict')}, "
            f"output {str(probe.get('baseline_output_sha256'))[:12]}… -> "
            f"{str(probe.get('output_sha256'))[:12]}…\n" + diff_file.read_text("utf-8", "replace")
        )
    files.update(replaced)
    files[BASELINE_NAME] = _rehashed(project, replaced)
    diff = f"accept the outputs observed by {event.get('event_id')}\n\n" + "\n".join(lines)
    fields = {
        "kind": "accept",
        "answers": event.get("event_id"),
        "base_version": state.version,
        "source": f"snapshot {(event.get('snapshot') or {}).get('snapshot_id')}",
        "made_at": iso_utc(now),
        "summary": {"probes": len(lines), "files": 0},
    }
    return journal(project, ledger_, new_id("PRO", now), files=files, fields=fields, diff=diff)


def _rehashed(project: Project, replaced: dict[str, bytes | Path]) -> bytes:
    """The manifest in force with the entries of `replaced` files holding their new hashes."""
    manifest = parse_manifest(project.baseline_file.read_bytes(), BASELINE_NAME)
    by_path = {f"{GOVERNANCE_DIR}/{rel}": content for rel, content in replaced.items()}
    entries = []
    for entry in manifest.entries:
        content = by_path.pop(entry.path, None)
        if content is not None:
            digest = sha256_of(content) if isinstance(content, Path) else ""
            entry = Entry(entry.path, "file", digest, entry.mode)
        entries.append(entry)
    for path, content in by_path.items():  # a probe the sealing did not know: a new entry
        entries.append(
            Entry(path, "file", sha256_of(content) if isinstance(content, Path) else "", 0o644)
        )
    return render_manifest(Manifest(manifest.paths, manifest.exclude, tuple(entries)))


def _tree_diff(old: Manifest, new: Manifest) -> tuple[list[str], dict[str, int]]:
    before = {e.path: e for e in old.entries}
    after = {e.path: e for e in new.entries}
    own = f"{GOVERNANCE_DIR}/{BASELINE_DIR}/"
    lines, counts = [], {"added": 0, "removed": 0, "modified": 0}
    for path in sorted(before.keys() | after.keys()):
        if path.startswith(own):
            continue
        change = (
            "added"
            if path not in before
            else "removed"
            if path not in after
            else "modified"
            if before[path] != after[path]
            else None
        )
        if change:
            counts[change] += 1
            lines.append(f"  {change:8} {path}")
    return lines, counts


def _probe_diffs(project: Project, out: Path, names: list[str]) -> list[str]:
    lines = []
    for name in names:
        old = behaviour.load(project.governance, name)
        new = behaviour.load(out, name)
        if new is None:
            continue
        if old is None:
            lines.append(f"probe {name}: new (verdict {new.verdict}, {new.test_count} tests)")
            continue
        changes = diffing.status_changes(old.tests, new.tests)
        header = f"probe {name}: verdict {old.verdict} -> {new.verdict}"
        text = diffing.unified(
            behaviour.probe_folder(project.governance, name) / "output.normalized",
            behaviour.probe_folder(out, name) / "output.normalized",
            ("in-force/output.normalized", "proposed/output.normalized"),
            out,
        )
        lines.append(header + "\n" + diffing.render(name, changes, text))
    return lines


def _text_diffs(project: Project, authority: str | None, root: Path) -> list[str]:
    """The line diffs of sealguard's own files (what an `amend` changes is read, not guessed)."""
    pairs = (
        (CONFIG_NAME, project.governance / BASELINE_DIR / SEALED_CONFIG),
        (AUTHORITY_NAME, None),
    )
    lines: list[str] = []
    for name, sealed in pairs:
        try:
            before = sealed.read_text("utf-8") if sealed else (authority or "")
            after = (root / GOVERNANCE_DIR / name).read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        lines += difflib.unified_diff(
            before.splitlines(), after.splitlines(), f"in-force/{name}", f"proposed/{name}",
            lineterm="",
        )  # fmt: skip
    return lines + ([""] if lines else [])


def propose_reseal(
    project: Project,
    ledger_: ledger.Ledger,
    state: ObservationState,
    source: Path | None,
    *,
    jobs: int,
    now: datetime,
    reason: str,
    scope: dict[str, Any] | None = None,
) -> Proposal:
    """The build at `source` (default: the project as it is now), hashed and run once; with a
    `scope` (fleet_payload.Scope), a proposal for those hosts of the fleet, whose record binds
    the diff its signers read (decide/fleet_decisions.py)."""
    if state.mode == "HALTED" and state.incident is None:
        raise RefusedError(
            f"observation is HALTED ({state.reason}) and no incident is open: "
            "there is nothing a re-seal could correct; run `sealguard verify`"
        )
    root = (source or project.root).resolve()
    config = load_config(root / GOVERNANCE_DIR / CONFIG_NAME)
    in_force = authority_text(ledger.read_events(project.log_file))
    if in_force is not None and not (root / GOVERNANCE_DIR / AUTHORITY_NAME).is_file():
        raise RefusedError(
            f"{root / GOVERNANCE_DIR / AUTHORITY_NAME}: missing; the version it would install "
            "would let nobody sign a decision again: copy governance/AUTHORITY.toml into "
            "the staging build"
        )
    out = Path(tempfile.mkdtemp(prefix="sealguard-propose-"))
    try:
        made = candidate(root, config, jobs, out)
        files: dict[str, bytes | Path] = {BASELINE_NAME: made.manifest}
        files.update({p.relative_to(out).as_posix(): p.read_bytes() for p in made.files})
        old = parse_manifest(project.baseline_file.read_bytes(), BASELINE_NAME)
        new = parse_manifest(made.manifest, BASELINE_NAME)
        tree, counts = _tree_diff(old, new)
        probes = _probe_diffs(project, out, [p.name for p in config.probe])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    changed = {line.split()[-1] for line in tree}
    only_config = changed and changed <= {
        f"{GOVERNANCE_DIR}/{CONFIG_NAME}",
        f"{GOVERNANCE_DIR}/{AUTHORITY_NAME}",
    }
    kind: ProposalKind = "amend" if only_config else "reseal"
    texts = _text_diffs(project, in_force, root)
    summary = ", ".join(f"{n} {change}" for change, n in counts.items())
    diff = "\n".join([f"{kind} from {root}", f"files: {summary}", *tree, "", *texts, *probes])
    fields: dict[str, Any] = {
        "kind": kind,
        "answers": state.incident.incident_id if state.incident else None,
        "base_version": state.version,
        "source": str(root),
        "reason": reason,
        "made_at": iso_utc(now),
        "summary": {**counts, "probes": len(probes)},
        "config_sha256": made.config_sha256,
        "authority": made.authority,
    }
    if scope is not None:
        digest = hashlib.sha256(diff.encode()).hexdigest()
        fields["fleet"] = {"scope": scope, "diff_sha256": digest}
    return journal(project, ledger_, new_id("PRO", now), files=files, fields=fields, diff=diff)
