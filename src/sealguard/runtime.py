"""The runtime area, governance/runtime/ (INV-D-04): sealguard writes there, and says so.

Every file sealguard writes under the runtime folder is recorded in the log with its SHA-256
(`runtime_file` events). The ledger's own files (log, checkpoints, cache, key) are held by the
ledger's checks instead. `check_runtime_area` reports a file nobody recorded, a recorded file
that changed, and one that is gone.
"""

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sealguard import ledger
from sealguard.fsio import sha256_of, write_atomic
from sealguard.integrity import Difference
from sealguard.names import escape

RUNTIME_FILE = "runtime_file"


def _rel(ledger_: ledger.Ledger, path: Path) -> str:
    return path.relative_to(ledger_.folder).as_posix()


def describe_files(
    ledger_: ledger.Ledger, paths: Iterable[Path]
) -> list[tuple[str, dict[str, Any]]]:
    """Records for files already written in place (such as an export archive)."""
    records = []
    for path in paths:
        data_hash = _sha256(path) or ""
        records.append(
            (
                RUNTIME_FILE,
                {"path": _rel(ledger_, path), "sha256": data_hash, "size": path.stat().st_size},
            )
        )
    return records


def _copy(source: Path, target: Path) -> tuple[str, int]:
    """Copy with bounded memory, fsync, and return (sha256, size) of what was written."""
    digest, size = hashlib.sha256(), 0
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    with source.open("rb") as src, temp.open("wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(temp, target)
    return digest.hexdigest(), size


def write_files(
    ledger_: ledger.Ledger, files: Mapping[Path, bytes | Path]
) -> list[tuple[str, dict[str, Any]]]:
    """Write each file (bytes, or a copy of a file) atomically; returns the records to journal."""
    records = []
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            digest, size = _copy(content, path)
        else:
            write_atomic(path, content)
            digest, size = hashlib.sha256(content).hexdigest(), len(content)
        records.append(
            (RUNTIME_FILE, {"path": _rel(ledger_, path), "sha256": digest, "size": size})
        )
    return records


def record_files(ledger_: ledger.Ledger, files: Mapping[Path, bytes | Path]) -> list[ledger.Event]:
    """Write each file, then journal them all in one append."""
    return ledger.append_many(ledger_, write_files(ledger_, files))


def recorded_files(events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Runtime-relative path -> the SHA-256 the log last recorded for it. Pure."""
    return {e["path"]: e["sha256"] for e in events if e.get("type") == RUNTIME_FILE}


def _own(ledger_: ledger.Ledger, path: Path) -> bool:
    own = ledger_.own_files()
    if path in own:
        return True
    # a temp file left by an interrupted atomic write of one of the ledger's own files
    return any(path.parent == f.parent and path.name.startswith(f".{f.name}.tmp-") for f in own)


def _present(ledger_: ledger.Ledger) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, _dirs, names in os.walk(ledger_.folder):
        for name in names:
            path = Path(folder) / name
            if not _own(ledger_, path):
                found[_rel(ledger_, path)] = path
    return found


def _sha256(path: Path) -> str | None:
    try:
        return sha256_of(path)
    except OSError:
        return None


def check_snapshots(root: Path, events: Iterable[Mapping[str, Any]]) -> list[Difference]:
    """INV-D-07: every snapshot file still has the hash its event recorded."""
    found = []
    for event in events:
        snapshot = event.get("snapshot") if event.get("type") == "runtime_event" else None
        if not snapshot:
            continue
        folder = root / snapshot["path"]
        for name, expected in sorted(snapshot["files"].items()):
            actual = _sha256(folder / name)
            if actual != expected:
                what = (
                    "gone or unreadable"
                    if actual is None
                    else "differs from the hash its event recorded"
                )
                found.append(
                    Difference(
                        "modified" if actual else "removed",
                        f"{snapshot['path']}/{name}",
                        what,
                        "INV-D-07",
                    )
                )
    return found


def check_runtime_area(
    ledger_: ledger.Ledger, events: Iterable[Mapping[str, Any]], shown: str
) -> list[Difference]:
    """INV-D-04 differences; `shown` prefixes paths in messages (e.g. "governance/runtime")."""
    expected = recorded_files(events)
    present = _present(ledger_)
    found: list[Difference] = []
    for rel, path in sorted(present.items()):
        where = f"{shown}/{escape(rel)}"  # a name as os.walk gave it may hold any byte
        if rel not in expected:
            found.append(
                Difference(
                    "added",
                    where,
                    "not written by sealguard (no runtime_file event records it)",
                    "INV-D-04",
                )
            )
        elif (actual := _sha256(path)) is None:
            found.append(Difference("unreadable", where, "cannot be read", "INV-D-04"))
        elif actual != expected[rel]:
            found.append(
                Difference(
                    "modified", where, "differs from the SHA-256 the log recorded", "INV-D-04"
                )
            )
    for rel in sorted(set(expected) - set(present)):
        found.append(
            Difference("removed", f"{shown}/{rel}", "recorded in the log, now gone", "INV-D-04")
        )
    return found
