"""The runtime area's index: INV-D-04 and INV-D-07 without reading every file on every run.

Like git's index: for each folder of governance/runtime/, the folder's own identity when it was
last listed (device, inode, mtime_ns, ctime_ns), and for each of its files the SHA-256 the log
recorded and the file's identity (device, inode, size, mtime_ns, ctime_ns) when its content
last matched. It is signed with the log key and names the log position it folded runtime
records to. A folder whose identity has not moved has the same entries (adding, removing or
renaming an entry moves it); a file whose identity has not moved was not written (a write moves
its ctime, which nobody can set back short of the clock). So an incremental check lists only
the folders that moved or that the log's new lines write to, hashes only the files there whose
identity moved, and checks the snapshots of the new runtime events (INV-D-07).

What it does not see: a file rewritten in place in a folder whose entries did not change. Its
own ctime moved, but the incremental check does not look at it; the full check (`verify
--full`, and every full audit of the policy: at most `[ledger] full_audit_every` audits or
`full_audit_after` apart) hashes every file and finds it, and rebuilds the index. The index is
used only after an incremental audit of the log found it intact: when the log was audited in
full, the runtime area is checked in full too.
"""

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard import ledger
from sealguard.errors import LedgerFileError
from sealguard.ledger import files, signed
from sealguard.ledger.reader import parse_events
from sealguard.names import escape
from sealguard.runtime import (
    LEFTOVERS,
    RUNTIME_FILE,
    Expected,
    check_snapshots,
    difference_of,
    is_own,
)
from sealguard.seal.integrity import Difference

DOMAIN = b"sealguard-runtime-index/1\n"
Folders = dict[str, "Folder"]


class Stale(Exception):
    """The index cannot be used as it is: the runtime area is checked in full instead."""


def _identity(st: os.stat_result, size: bool) -> list[int]:
    middle = [st.st_size] if size else []
    return [st.st_dev, st.st_ino, *middle, st.st_mtime_ns, st.st_ctime_ns]


@dataclass
class Folder:
    identity: list[int]  # the folder's, when it was last listed
    files: dict[str, list[Any]] = field(default_factory=dict)  # name -> [sha256, identity]
    folders: list[str] = field(default_factory=list)  # its subfolders' names

    def data(self) -> dict[str, Any]:
        return {"identity": self.identity, "files": self.files, "folders": self.folders}


def archived(rel: str) -> bool:
    """A folder of event files (one per UTC day, and `events/` itself, where event files were
    kept before day folders): held by its identity alone between full checks. Every other
    folder's files are held by their own identity on every check."""
    return rel == "events" or rel.startswith("events/")


@dataclass
class Index:
    lines: int  # the log lines whose runtime records the index holds
    length: int  # their bytes
    folders: dict[str, dict[str, Any]]  # rel -> Folder.data(), or identity and digest if archived
    changed: Folders = field(default_factory=dict)  # folders checked this run, to save
    dropped: set[str] = field(default_factory=set)  # folders gone since

    def body(self) -> bytes:
        data = {"lines": self.lines, "length": self.length, "folders": self.folders}
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _main(ledger_: ledger.Ledger) -> Path:
    return ledger_.index / "area"


def _folder_file(ledger_: ledger.Ledger, rel: str) -> Path:
    return ledger_.index / "area.d" / (hashlib.sha256(rel.encode()).hexdigest()[:32] + ".json")


def load(ledger_: ledger.Ledger, public: bytes) -> Index | None:
    body = signed.read(_main(ledger_), public, DOMAIN)
    try:
        data = json.loads(body) if body is not None else None
        if data is None:
            return None
        folders = dict(data["folders"])
        if not all(_well_formed(ref) for ref in folders.values()):
            return None
        return Index(int(data["lines"]), int(data["length"]), folders)
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def _well_formed(ref: Any) -> bool:
    """A folder's entry as `save` writes it (an index of another format is not used)."""
    if not isinstance(ref, dict) or not isinstance(ref.get("identity"), list):
        return False
    if "digest" in ref:
        return isinstance(ref["digest"], str)
    return isinstance(ref.get("files"), dict) and isinstance(ref.get("folders"), list)


def _parse_folder(body: dict[str, Any]) -> Folder:
    return Folder(list(body["identity"]), dict(body["files"]), list(body["folders"]))


def _read_folder(ledger_: ledger.Ledger, index: Index, rel: str) -> Folder | None:
    """A folder's entry: inline, or from its file when that has the hash the index names."""
    ref = index.folders.get(rel)
    if ref is None:
        return None
    try:
        if "digest" not in ref:
            return _parse_folder(ref)
        data = files.read_bytes(_folder_file(ledger_, rel))
        if hashlib.sha256(data).hexdigest() != ref["digest"]:
            return None
        return _parse_folder(json.loads(data))
    except (OSError, LedgerFileError, ValueError, KeyError, TypeError):
        return None


def save(ledger_: ledger.Ledger, index: Index, key: Ed25519PrivateKey) -> None:
    """Archived folders' files first, then the signed index naming their hashes."""
    for rel, folder in index.changed.items():
        if not archived(rel):
            index.folders[rel] = folder.data()
            continue
        data = json.dumps(folder.data(), sort_keys=True, separators=(",", ":")).encode()
        path = _folder_file(ledger_, rel)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError:
            return  # a cache: the next run checks in full
        index.folders[rel] = {"identity": folder.identity, "digest": _sha(data)}
    index.changed = {}
    signed.write(_main(ledger_), index.body(), key, DOMAIN)


def forget(ledger_: ledger.Ledger) -> None:
    """After a check that found a difference: the next checks are full until one finds none."""
    with contextlib.suppress(OSError):
        _main(ledger_).unlink(missing_ok=True)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _split(rel: str) -> tuple[str, str]:
    folder, _, name = rel.rpartition("/")
    return folder, name


# -- building it from a full check ----------------------------------------------------------


def build(ledger_: ledger.Ledger, recorded: Mapping[str, str], lines: int, length: int) -> Index:
    """The index of the runtime area as a full check just found it matching `recorded`."""
    index = Index(lines, length, {})
    for top, dirs, names in os.walk(ledger_.folder):
        top_path = Path(top)
        if top_path == ledger_.index or top_path.is_relative_to(ledger_.index):
            dirs[:] = []
            continue
        rel = top_path.relative_to(ledger_.folder).as_posix()
        rel = "" if rel == "." else rel
        folder = Folder(_identity(os.lstat(top_path), size=False), folders=sorted(dirs))
        for name in names:
            path = top_path / name
            key = f"{rel}/{name}" if rel else name
            if key in recorded and not is_own(ledger_, path):
                folder.files[name] = [recorded[key], _identity(os.lstat(path), size=True)]
        index.changed[rel] = folder
    return index


# -- the incremental check ------------------------------------------------------------------


@dataclass
class Tail:
    """The log lines after the index: their runtime records and events."""

    events: list[dict[str, Any]]
    lines: int
    length: int
    records: dict[str, str]  # path -> the SHA-256 recorded after the index


def read_tail(ledger_: ledger.Ledger, index: Index) -> Tail:
    with files.open_read(ledger_.log) as stream:
        stream.seek(index.length)
        data = stream.read()
    end = data.rfind(b"\n") + 1
    events = parse_events(data[:end], ledger_.log, index.lines)
    records: dict[str, str] = {}
    for event in events:
        if event.get("type") == RUNTIME_FILE:
            records[str(event["path"])] = str(event["sha256"])
        elif event.get("type") == LEFTOVERS:
            records.update({str(f["path"]): str(f["sha256"]) for f in event.get("files", [])})
    return Tail(events, index.lines + data[:end].count(b"\n"), index.length + end, records)


@dataclass
class _Check:
    ledger: ledger.Ledger
    index: Index
    expected: Expected  # pending and announced writes (the journal's), for `explains`
    tail: Tail
    shown: str
    found: list[Difference] = field(default_factory=list)

    def where(self, rel: str) -> str:
        return f"{self.shown}/{escape(rel)}"

    def files(self, rel: str, folder: Folder) -> None:
        """The files of a folder whose entries did not change: hashed only if they moved."""
        path = self.ledger.folder / rel if rel else self.ledger.folder
        for name, (sha, cached) in sorted(folder.files.items()):
            full = f"{rel}/{name}" if rel else name
            try:
                stat = _identity(os.lstat(path / name), size=True)
            except FileNotFoundError:
                self.found.append(_removed(self.where(full)))
                continue
            if stat == cached:
                continue
            view = Expected({full: sha}, self.expected.pending, self.expected.announced)
            if (found := difference_of(full, path / name, view, self.where(full))) is not None:
                self.found.append(found)
            else:  # the same content (touched): held by the new identity from now on
                self.index.changed.setdefault(rel, folder).files[name] = [sha, stat]

    def _listing(self, path: Path) -> tuple[list[str], dict[str, "os.DirEntry[str]"]]:
        folders: list[str] = []
        present: dict[str, os.DirEntry[str]] = {}
        with os.scandir(path) as listing:
            for item in listing:
                if item.is_dir():  # as os.walk lists them: a symlink to a folder is not entered
                    if not item.is_symlink() and Path(item.path) != self.ledger.index:
                        folders.append(item.name)
                else:
                    present[item.name] = item
        return sorted(folders), present

    def _expected(self, rel: str, known: Folder | None) -> dict[str, str]:
        """name -> SHA-256: what the index held, and what the new lines recorded since."""
        expected = {name: value[0] for name, value in (known.files if known else {}).items()}
        for full, sha in self.tail.records.items():
            parent, name = _split(full)
            if parent == rel:
                expected[name] = sha
        return expected

    def folder(self, rel: str, known: Folder | None) -> Folder:
        """List one folder and hold each file to what the log recorded; returns its entry."""
        path = self.ledger.folder / rel if rel else self.ledger.folder
        entry = Folder(_identity(os.lstat(path), size=False))
        entry.folders, present = self._listing(path)
        expected = self._expected(rel, known)
        recorded = {(f"{rel}/{name}" if rel else name): sha for name, sha in expected.items()}
        view = Expected(recorded, self.expected.pending, self.expected.announced)
        for name, item in sorted(present.items()):
            full = f"{rel}/{name}" if rel else name
            if is_own(self.ledger, Path(item.path)):
                continue
            cached = known.files.get(name) if known else None
            stat = _identity(item.stat(follow_symlinks=False), size=True)
            unmoved = cached is not None and cached[1] == stat and cached[0] == expected.get(name)
            if not (unmoved and full not in self.expected.pending):
                difference = difference_of(full, Path(item.path), view, self.where(full))
                if difference is not None:
                    self.found.append(difference)
                    continue
            if name in expected:
                entry.files[name] = [expected[name], stat]
        for name in sorted(set(expected) - set(present)):
            full = f"{rel}/{name}" if rel else name
            if not (path / name).exists() and full not in self.expected.pending:
                self.found.append(_removed(self.where(full)))
        return entry


def check(
    ledger_: ledger.Ledger,
    index: Index,
    expected: Expected,
    tail: Tail,
    *,
    shown: str,
    root: Path,
) -> list[Difference]:
    """INV-D-04 over the folders that moved or that new lines write to, and INV-D-07 over the
    new runtime events; the folders checked are kept in `index.changed` for `save`. Raises
    Stale when a folder's entry is not the one the signed index names."""
    run = _Check(ledger_, index, expected, tail, shown)
    written = {_split(path)[0] for path in [*tail.records, *expected.pending]}
    queue = sorted(set(index.folders) | written | {""})
    seen: set[str] = set()
    while queue:
        rel = queue.pop()
        if rel in seen:
            continue
        seen.add(rel)
        path = ledger_.folder / rel if rel else ledger_.folder
        known = index.folders.get(rel)
        try:
            identity = _identity(os.lstat(path), size=False)
        except FileNotFoundError:
            _gone(run, rel, _read_folder(ledger_, index, rel))
            index.dropped.add(rel)
            continue
        unmoved = known is not None and known["identity"] == identity and rel not in written
        if unmoved and archived(rel):
            continue  # a past day's event files: held by the folder's identity alone
        folder = _read_folder(ledger_, index, rel) if known is not None else None
        if known is not None and folder is None:
            raise Stale(f"{_folder_file(ledger_, rel)}: not the file the index names")
        if folder is not None and unmoved:
            run.files(rel, folder)  # same entries: each file held by its own identity
            queue += [f"{rel}/{name}" if rel else name for name in folder.folders]
            continue
        entry = run.folder(rel, folder)
        index.changed[rel] = entry
        queue += [f"{rel}/{name}" if rel else name for name in entry.folders]
    run.found += check_snapshots(root, tail.events)
    return run.found


def _removed(where: str) -> Difference:
    return Difference("removed", where, "recorded in the log, now gone", "INV-D-04")


def _gone(run: _Check, rel: str, folder: Folder | None) -> None:
    for name in sorted(folder.files if folder else {}):
        full = f"{rel}/{name}" if rel else name
        run.found.append(_removed(run.where(full)))


def advance(index: Index, tail: Tail) -> None:
    """After a check that found nothing: the index now holds the tail's records."""
    index.lines, index.length = tail.lines, tail.length
    for rel in index.dropped:
        index.folders.pop(rel, None)
    index.dropped = set()
