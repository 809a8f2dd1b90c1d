"""The runtime area, governance/runtime/ (INV-D-04): sealguard writes there, and says so.

Every write is journaled ahead: a `runtime_writing` event names the files about to be written,
then they are written (temp file, fsync, rename), then `runtime_file` events record each with
its SHA-256. A crash or a full disk between the announcement and the record leaves files that
the log explains: the next observation accounts for them in a `runtime_leftovers` event (their
hashes, and which announced files never appeared), and from then on holds them like any other.
Only a file that no journaled write explains is "not written by sealguard". The ledger's own
files (log, checkpoints, cache, key) are held by the ledger's checks instead.
"""

import functools
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealguard import ledger
from sealguard.errors import DataError, EvidenceWriteError
from sealguard.fsio import sha256_of, write_atomic
from sealguard.ledger.journal import notable_events
from sealguard.lock import LOCK_NAME
from sealguard.names import escape
from sealguard.seal.integrity import Change, Difference

RUNTIME_FILE = "runtime_file"
WRITING = "runtime_writing"
LEFTOVERS = "runtime_leftovers"

TEMP_MARK = ".tmp-"


# -- the pure part: what the log says the runtime area holds ----------------------------------


@dataclass
class Expected:
    """The runtime area as the log describes it."""

    files: dict[str, str] = field(default_factory=dict)  # path -> the SHA-256 last recorded
    pending: set[str] = field(default_factory=set)  # announced, not (yet) recorded
    announced: dict[str, str] = field(default_factory=dict)  # pending path -> its known SHA-256

    def explains(self, rel: str) -> bool:
        """An announced file still being (or interrupted while being) written, or its temp."""
        return rel in self.pending or temp_target(rel) in self.pending


def _is_pid(text: str) -> bool:
    """ASCII digits only, as `os.getpid()` writes them (not `²` or `١`, which isdigit allows)."""
    return text.isascii() and text.isdigit()


def temp_target(rel: str) -> str | None:
    """The file a temp name like `dir/.name.tmp-123` is written for, or None."""
    folder, _, name = rel.rpartition("/")
    if not name.startswith(".") or TEMP_MARK not in name:
        return None
    target, _, pid = name[1:].rpartition(TEMP_MARK)
    if not _is_pid(pid):
        return None
    return f"{folder}/{target}" if folder else target


def expected_files(events: Iterable[Mapping[str, Any]]) -> Expected:
    """Fold the log's runtime events. Pure."""
    expected = Expected()
    for event in events:
        kind = event.get("type")
        if kind == WRITING:
            expected.pending.update(event.get("paths", []))
            expected.announced.update(event.get("sha256", {}))
        elif kind == RUNTIME_FILE:
            expected.files[event["path"]] = event["sha256"]
            expected.pending.discard(event["path"])
        elif kind == LEFTOVERS:
            for item in event.get("files", []):
                expected.files[item["path"]] = item["sha256"]
            expected.pending.clear()
            expected.announced.clear()
    return expected


def recorded_files(events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Runtime-relative path -> the SHA-256 the log last recorded for it. Pure."""
    return expected_files(events).files


# -- the edges: listing, hashing, writing ------------------------------------------------------


def _rel(ledger_: ledger.Ledger, path: Path) -> str:
    return path.relative_to(ledger_.folder).as_posix()


@functools.lru_cache(maxsize=16)
def _own(ledger_: ledger.Ledger) -> tuple[frozenset[Path], tuple[tuple[Path, str], ...]]:
    """The ledger's own files, and the (folder, prefix) of their temp files: made once per
    ledger, not for every file of a listing."""
    own = ledger_.own_files() | {ledger_.folder / LOCK_NAME}
    return frozenset(own), tuple((f.parent, f".{f.name}{TEMP_MARK}") for f in own)


def is_own(ledger_: ledger.Ledger, path: Path) -> bool:
    own, temps = _own(ledger_)
    if path in own or path.is_relative_to(ledger_.index):
        return True  # the index holds caches, each signed with the log key and checked
    # a temp file left by an interrupted atomic write of one of the ledger's own files: exactly
    # `.<name>.tmp-<pid>` (fsio.write_atomic), so no other name can hide here unchecked
    return any(
        path.parent == parent and path.name.startswith(prefix) and _is_pid(path.name[len(prefix) :])
        for parent, prefix in temps
    )


def present_files(ledger_: ledger.Ledger) -> dict[str, Path]:
    """Every file under the runtime folder that is not one of the ledger's own.

    List the folder *before* reading the log: a file written meanwhile was announced first,
    so the log read afterwards explains it.
    """
    found: dict[str, Path] = {}
    for folder, _dirs, names in os.walk(ledger_.folder):
        for name in names:
            path = Path(folder) / name
            if not is_own(ledger_, path):
                found[_rel(ledger_, path)] = path
    return found


def _sha256(path: Path) -> str | None:
    try:
        return sha256_of(path)
    except OSError:
        return None


def _written(ledger_: ledger.Ledger, path: Path, digest: str, size: int) -> tuple[str, Any]:
    return RUNTIME_FILE, {"path": _rel(ledger_, path), "sha256": digest, "size": size}


def _copy(source: Path, temp: Path) -> tuple[str, int]:
    """Copy with bounded memory and fsync; returns (sha256, size) of what was written."""
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as src, temp.open("wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest(), size


def _write_one(path: Path, content: bytes | Path) -> tuple[str, int]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        write_atomic(path, content)
        return hashlib.sha256(content).hexdigest(), len(content)
    temp = path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}")
    try:
        digest, size = _copy(content, temp)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    os.replace(temp, path)
    return digest, size


def cannot_write(path: Path, exc: OSError) -> EvidenceWriteError:
    return EvidenceWriteError(
        f"{path}: cannot write evidence ({exc.strerror or exc}); the observation stopped "
        "here, and the next one accounts for what was announced"
    )


def announce(
    ledger_: ledger.Ledger, paths: Iterable[Path], hashes: Mapping[Path, str] | None = None
) -> None:
    """Journal the files about to be written (write-ahead), with their SHA-256 where it is
    known in advance, so that a leftover can only be adopted with the content announced."""
    fields: dict[str, Any] = {"paths": [_rel(ledger_, p) for p in paths]}
    if hashes:
        fields["sha256"] = {_rel(ledger_, p): digest for p, digest in hashes.items()}
    ledger.append(ledger_, WRITING, fields)


def _hash_ahead(content: bytes | Path) -> str:
    return hashlib.sha256(content).hexdigest() if isinstance(content, bytes) else sha256_of(content)


def write_files(
    ledger_: ledger.Ledger, files: Mapping[Path, bytes | Path]
) -> list[tuple[str, dict[str, Any]]]:
    """Announce, then write each file (bytes, or a copy of a file) atomically; returns the
    records to journal. A full disk or an I/O error is exit 74, never a half-explained file."""
    announce(ledger_, files, {path: _hash_ahead(content) for path, content in files.items()})
    records = []
    for path, content in files.items():
        try:
            digest, size = _write_one(path, content)
        except OSError as exc:
            raise cannot_write(path, exc) from None
        records.append(_written(ledger_, path, digest, size))
    return records


def describe_files(
    ledger_: ledger.Ledger, paths: Iterable[Path]
) -> list[tuple[str, dict[str, Any]]]:
    """Records for files already written in place (such as an export archive)."""
    records = []
    for path in paths:
        records.append(_written(ledger_, path, _sha256(path) or "", path.stat().st_size))
    return records


def record_files(ledger_: ledger.Ledger, files: Mapping[Path, bytes | Path]) -> list[ledger.Event]:
    """Write each file, then journal them all in one append."""
    return ledger.append_many(ledger_, write_files(ledger_, files))


def account_leftovers(ledger_: ledger.Ledger) -> ledger.Event | None:
    """After a crash: journal what interrupted writes left (with hashes), and what never came.

    Call it holding the observer lock (no write is under way). Returns the event, or None.
    """
    if not ledger_.log.exists():
        return None
    try:
        expected = expected_files(notable_events(ledger_))
    except DataError:
        return None  # an unreadable log: the invariant checks report it
    if not expected.pending:
        return None
    present = present_files(ledger_)  # no write is under way (the observer lock is held)
    left = sorted(rel for rel in present if expected.explains(rel))
    files = []
    for rel in left:
        path, actual = present[rel], _sha256(present[rel]) or ""
        # a file in place holds what was announced, or it is held to the announced hash (and
        # the check reports it modified): content planted after a crash is never adopted
        kept = expected.announced.get(rel, actual)
        files.append({"path": rel, "sha256": kept, "size": path.stat().st_size})
    absent = sorted(expected.pending - set(left))
    return ledger.append(ledger_, LEFTOVERS, {"files": files, "never_written": absent})


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
                change: Change = "modified" if actual else "removed"
                found.append(Difference(change, f"{snapshot['path']}/{name}", what, "INV-D-07"))
    return found


def difference_of(rel: str, path: Path, expected: Expected, where: str) -> Difference | None:
    if expected.explains(rel):
        return None  # announced: a write under way, or the leftovers of an interrupted one
    if rel not in expected.files:
        if not path.exists() and temp_target(rel) in expected.files:
            return None  # a temp file renamed into place after the folder was listed
        why = "not written by sealguard (no journaled write explains it)"
        return Difference("added", where, why, "INV-D-04")
    actual = _sha256(path)
    if actual is None:
        return Difference("unreadable", where, "cannot be read", "INV-D-04")
    if actual != expected.files[rel]:
        return Difference(
            "modified", where, "differs from the SHA-256 the log recorded", "INV-D-04"
        )
    return None


def check_runtime_area(
    ledger_: ledger.Ledger,
    events: Iterable[Mapping[str, Any]],
    shown: str,
    present: dict[str, Path] | None = None,
) -> list[Difference]:
    """INV-D-04 differences; `shown` prefixes paths in messages (e.g. "governance/runtime").

    `present` is the listing taken before the log was read (taken now when not given).
    """
    listed = present_files(ledger_) if present is None else present
    expected = expected_files(events)
    found = [
        d
        for rel, path in sorted(listed.items())
        if (d := difference_of(rel, path, expected, f"{shown}/{escape(rel)}")) is not None
    ]
    for rel in sorted(set(expected.files) - set(listed)):
        if not (ledger_.folder / rel).exists():  # written after the listing: not gone
            found.append(
                Difference(
                    "removed", f"{shown}/{escape(rel)}", "recorded in the log, now gone", "INV-D-04"
                )
            )
    return found
