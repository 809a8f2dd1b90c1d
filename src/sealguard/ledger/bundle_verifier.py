#!/usr/bin/env python3
"""verify.py: check a sealguard governance log export without sealguard.

    pip install cryptography        (for Ed25519; everything else is Python's standard library)
    python3 verify.py [FOLDER]      (FOLDER: the extracted export; by default this file's folder)

It checks what `sealguard log verify --dir FOLDER` checks, with the same findings word for word:
every line is RFC 8785 canonical JSON with `seq` equal to its position, a string `type` and
`ts`; a line that is not JSON is a write cut short by a crash only when the next event (a
`torn_tail`) records its offset, length and SHA-256; the RFC 6962 tree over the lines (leaf =
SHA-256(0x00 || line), node = SHA-256(0x01 || left || right)); every checkpoint of
`checkpoint.history` and `checkpoint` (C2SP signed notes, Ed25519, signed by the key that line 1
names, no larger than the log, with the tree's root at its size, the `checkpoint` file the
newest note of the history); and, with `witness/`, the witness's record (its checkpoint signed by
the log key and cosigned by the witness, held by the log; no refusal newer than it).

Exit codes: 0 intact, 3 not intact, 64 no log in the folder, 65 a file of the log cannot be read,
69 the `cryptography` package is missing. sealguard ships this file as it is; it is kept apart
from sealguard's own modules so that it runs alone.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import errno
import hashlib
import json
import math
import os
import stat
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

LOG_NAME = "GOVERNANCE_LOG.ndjson"
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space
ED25519, COSIGNATURE_V1 = b"\x01", b"\x04"
SAFE_INT = 2**53 - 1
MAX_NUMBER = 4300  # characters; sealguard's JSON reader refuses a longer number
RECORD_FORMAT = "sealguard-witness-record/1"
WITNESS_EVENT = "witness_configured"
EXIT_INTACT, EXIT_VIOLATED, EXIT_USAGE, EXIT_DATA, EXIT_UNAVAILABLE = 0, 3, 64, 65, 69


class Unreadable(Exception):
    """A file of the log cannot be read at all (exit 65)."""


class FileProblem(Exception):
    """A symlink or special file where a log file should be (a finding, exit 3)."""


@dataclass(frozen=True)
class Problem:
    kind: str  # LINE TRUNCATION FORK SIGNATURE CHECKPOINT ROLLBACK KEY UNSIGNED WITNESS ...
    message: str
    line: int | None = None  # 1-based line of the log, where one is to blame


@dataclass
class Report:
    lines: int = 0
    root: bytes = b""
    checkpoints: int = 0
    latest: int | None = None
    torn_tails: list[int] = field(default_factory=list)
    pending_tail: int = 0
    unpublished: int = 0
    log_key: str | None = None
    problems: list[Problem] = field(default_factory=list)


# ----- files: never through a symlink, never waiting on a FIFO ---------------------------------


def _shown(path: Path) -> str:
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i : i + 2] == ("governance", "runtime"):
            return "/".join(parts[i:])
    return str(path)


def _symlink_message(path: Path) -> str:
    return (
        f"{_shown(path)} is a symlink: sealguard never follows one in place of a governance log "
        "file; nothing was read or written through it"
    )


def _special_message(path: Path) -> str:
    return (
        f"{_shown(path)} is not a regular file (a folder, FIFO, socket or device in place of a "
        "governance log file); nothing was read or written through it"
    )


def open_read(path: Path) -> BinaryIO:
    """The file, opened to read; FileProblem for a symlink or anything but a regular file."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileProblem(_symlink_message(path)) from None
        if exc.errno in (errno.ENXIO, errno.EISDIR):
            raise FileProblem(_special_message(path)) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileProblem(_special_message(path))
    return os.fdopen(fd, "rb")


def read_bytes(path: Path) -> bytes:
    with open_read(path) as stream:
        return stream.read()


def _not_regular(path: Path) -> Problem | None:
    if path.is_symlink():
        return Problem("SYMLINK", _symlink_message(path))
    if path.exists() and not path.is_file():
        return Problem("SPECIAL", _special_message(path))
    return None


# ----- canonical JSON (RFC 8785 on what sealguard writes: no floats, ASCII keys) ---------------


class _NotJson(ValueError):
    pass


class _NotCanonical(ValueError):
    pass


def _number(text: str) -> int:
    if len(text) > MAX_NUMBER:
        raise _NotJson("Integer value out of range")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotJson("Number out of range")
    return value


def _constant(text: str) -> Any:
    raise _NotJson(f"invalid character ({text})")


def _has_surrogate(value: Any) -> bool:
    """A lone surrogate escape (\\ud800): not JSON text for sealguard's reader."""
    if isinstance(value, str):
        return any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(item) for item in value)
    return False


def decode(line: bytes) -> Any:
    """The JSON value of a line, read as sealguard reads it; _NotJson when it is not JSON.
    RecursionError when it is nested too deeply."""
    try:
        value = json.loads(
            line.decode("utf-8"),
            parse_int=_number,
            parse_float=_float,
            parse_constant=_constant,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise _NotJson(str(exc)) from None
    if _has_surrogate(value):
        raise _NotJson("a lone surrogate escape")
    return value


def _safe(value: Any, where: str) -> Any:
    """The value as sealguard writes it: an integer beyond 2^53 as a string; else _NotCanonical."""
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, int):
        return value if -SAFE_INT <= value <= SAFE_INT else str(value)
    if isinstance(value, float):
        raise _NotCanonical(f"{where}: floats are not allowed in events ({value!r})")
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str) or not key.isascii():
                raise _NotCanonical(f"{where}: keys must be ASCII strings ({key!r})")
        return {key: _safe(item, f"{where}.{key}") for key, item in value.items()}
    return [_safe(item, f"{where}[{i}]") for i, item in enumerate(value)]


def encode(value: Any) -> bytes:
    """RFC 8785 for values with ASCII keys, no floats and integers below 2^53: Python's sorted,
    compact JSON escapes exactly the characters RFC 8785 escapes, the same way."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_problem(line: bytes) -> str | None:
    """Why `line` is not a canonical event line, or None when it is one."""
    try:
        try:
            value = decode(line)
        except _NotJson as exc:
            return f"not JSON ({exc})"
        if not isinstance(value, dict):
            return "not a JSON object"
        try:
            expected = encode(_safe(value, "event"))
        except _NotCanonical as exc:
            return f"not canonical: {exc}"
    except RecursionError:
        return "nested too deeply to read"
    if expected != line:
        return "not canonical RFC 8785 JSON (key order, spacing or escaping differs)"
    return None


# ----- the lines -------------------------------------------------------------------------------


@dataclass
class LineChecker:
    """Checks lines in order; collects problems, accounted tears and witness announcements."""

    problems: list[Problem] = field(default_factory=list)
    torn_tails: list[int] = field(default_factory=list)
    witnesses: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    fragment: tuple[int, int, bytes] | None = None  # (index, offset, bytes) awaiting its event

    def problem(self, index: int, message: str) -> None:
        self.problems.append(Problem("LINE", f"line {index + 1}: {message}", index + 1))

    def unaccounted(self) -> None:
        if self.fragment is not None:
            self.problem(
                self.fragment[0], "not a JSON event, and no torn_tail event accounts for it"
            )
            self.fragment = None

    def line(self, index: int, line: bytes, offset: int) -> None:
        problem = canonical_problem(line)
        if problem is not None and problem.startswith("not JSON"):
            self.unaccounted()
            self.fragment = (index, offset, line)
            return
        event = decode(line) if problem is None else None
        self._account(event)
        if problem is not None or not isinstance(event, dict):
            self.problem(index, problem or "not a JSON object")
            return
        if event.get("seq") != index:
            seq = event.get("seq")
            self.problem(
                index, f"seq is {seq!r}, expected {index} (a line removed, inserted or moved?)"
            )
        elif not isinstance(event.get("type"), str) or not isinstance(event.get("ts"), str):
            self.problem(index, "an event needs a string `type` and `ts`")
        elif event["type"] == WITNESS_EVENT:
            self.witnesses.append((index + 1, event))

    def _account(self, event: Any) -> None:
        if self.fragment is None:
            return
        index, offset, data = self.fragment
        self.fragment = None
        expected = {
            "line": index,
            "offset": offset,
            "length": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        if (
            isinstance(event, dict)
            and event.get("type") == "torn_tail"
            and event.get("fragment") == expected
        ):
            self.torn_tails.append(index + 1)
        else:
            self.problem(index, "not a JSON event, and no torn_tail event accounts for it")


# ----- the RFC 6962 tree -----------------------------------------------------------------------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class Tree:
    """The roots of the perfect subtrees of a growing tree; its root and the byte offset where
    the next line starts, kept at the wanted sizes."""

    def __init__(self, wanted: set[int]) -> None:
        self.size, self.wanted = 0, wanted
        self.hashes: list[bytes] = []
        self.roots: dict[int, bytes] = {0: self.root()}
        self.offsets: dict[int, int] = {0: 0}

    def push(self, line: bytes, end: int) -> None:
        leaf, merged = hashlib.sha256(b"\x00" + line).digest(), self.size
        self.size += 1
        while merged & 1:  # each trailing 1 bit of the old size is a subtree to merge with
            leaf = _node(self.hashes.pop(), leaf)
            merged >>= 1
        self.hashes.append(leaf)
        if self.size in self.wanted:
            self.roots[self.size], self.offsets[self.size] = self.root(), end

    def root(self) -> bytes:
        if not self.hashes:
            return hashlib.sha256(b"").digest()
        root = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            root = _node(left, root)
        return root


# ----- signed notes (C2SP tlog-checkpoint, signed-note, tlog-cosignature) ----------------------


class NoteError(ValueError):
    pass


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    text: str  # the signed body, ending with a newline
    signatures: tuple[tuple[str, bytes, bytes], ...]  # (key name, key id, signature)

    def note(self) -> str:
        lines = "".join(
            f"{SIGNATURE_PREFIX}{name} {base64.b64encode(kid + sig).decode()}\n"
            for name, kid, sig in self.signatures
        )
        return self.text + "\n" + lines


def key_id(name: str, public: bytes, kind: bytes = ED25519) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + kind + public).digest()[:4]


def parse_verifier_key(text: str, kind: bytes = ED25519) -> tuple[str, bytes]:
    try:
        name, kid, data = text.strip().split("+", 2)
        raw = base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        raise NoteError("not a verifier key '<name>+<key id>+<base64 key>'") from None
    if raw[:1] != kind or len(raw) != 33 or key_id(name, raw[1:], kind).hex() != kid:
        raise NoteError("the verifier key is not an Ed25519 key of its type matching its key id")
    return name, raw[1:]


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise NoteError(f"{what} is not base64") from None


def parse_note(note: str) -> Checkpoint:
    text, sep, signature_block = note.partition("\n\n")
    if not sep:
        raise NoteError("no blank line between the checkpoint and its signatures")
    lines = text.split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint needs an origin, a size and a root hash")
    origin, size_text, root_text = lines[:3]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError(f"the tree size {size_text!r} is not a decimal number")
    root = _b64(root_text, "the root hash")
    if len(root) != 32:
        raise NoteError("the root hash is not 32 bytes")
    signatures = []
    for line in signature_block.rstrip("\n").split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"not a signature line: {line[:40]!r}")
        name, _, data = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
        raw = _b64(data, "a signature")
        if len(raw) < 5:
            raise NoteError("a signature line must hold a 4-byte key id and a signature")
        signatures.append((name, raw[:4], raw[4:]))
    return Checkpoint(origin, int(size_text), root, text + "\n", tuple(signatures))


def split_history(text: str) -> list[str]:
    """The notes of a history, each followed by a blank line (a last one cut short as it is)."""
    notes: list[str] = []
    block: list[str] = []
    for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
        if line == "" and block and block[-1].startswith(SIGNATURE_PREFIX):
            notes.append("\n".join(block) + "\n")
            block = []
        else:
            block.append(line)
    if block:
        notes.append("\n".join(block) + "\n")
    return notes


def verifies(public: bytes, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def signed_by(checkpoint: Checkpoint, name: str, public: bytes) -> bool:
    wanted = key_id(name, public)
    for signer, kid, signature in checkpoint.signatures:
        if signer == name and kid == wanted:
            return verifies(public, signature, checkpoint.text.encode())
    return False


def cosigned_at(checkpoint: Checkpoint, name: str, public: bytes) -> int | None:
    """The time of a valid cosignature by `name`'s key, or None."""
    wanted = key_id(name, public, COSIGNATURE_V1)
    for signer, kid, data in checkpoint.signatures:
        if signer != name or kid != wanted or len(data) != 72:
            continue
        (timestamp,) = struct.unpack(">Q", data[:8])
        message = f"cosignature/v1\ntime {timestamp}\n{checkpoint.text}".encode()
        if verifies(public, data[8:], message):
            return int(timestamp)
    return None


# ----- what the witness keeps about the log (witness/) -----------------------------------------


class WitnessError(Exception):
    pass


@dataclass(frozen=True)
class Record:
    """The witness's record of one log: its key, and the latest checkpoint it cosigned."""

    origin: str
    log_key: str
    project: str
    enrolled: str
    accepted: int
    checkpoint: Checkpoint | None

    @property
    def size(self) -> int:
        return self.checkpoint.size if self.checkpoint else 0

    @property
    def root(self) -> bytes:
        return self.checkpoint.root if self.checkpoint else hashlib.sha256(b"").digest()


@dataclass
class View:
    where: str
    identity: tuple[str, bytes] | None = None
    record: Record | None = None
    project: Record | None = None  # the latest kept for this log folder, when none by origin
    refusals: list[tuple[str, str, Any]] = field(default_factory=list)  # (at, reason, after)
    error: str | None = None


def _parse_record(path: Path, data: bytes) -> Record:
    try:
        value = json.loads(data)
        if value["format"] != RECORD_FORMAT:
            raise ValueError(f"format {value['format']!r}")
        text = value["checkpoint"]
        return Record(
            str(value["origin"]), str(value["log_key"]), str(value["project"]),
            str(value["enrolled"]), int(value["accepted"]),
            parse_note(text) if text is not None else None,
        )  # fmt: skip
    except (ValueError, KeyError, TypeError, NoteError) as exc:
        raise WitnessError(f"{path}: not a witness record ({exc})") from None


def _log_file(witness: Path, origin: str, suffix: str) -> Path:
    return witness / "logs" / f"{hashlib.sha256(origin.encode()).hexdigest()[:32]}.{suffix}"


def _identity(witness: Path) -> tuple[str, bytes] | None:
    path = witness / "witness.vkey"
    try:
        return parse_verifier_key(read_bytes(path).decode(), COSIGNATURE_V1)
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, NoteError) as exc:
        raise WitnessError(f"{path}: not a witness key ({exc})") from None


def _record(witness: Path, origin: str) -> Record | None:
    path = _log_file(witness, origin, "json")
    try:
        record = _parse_record(path, read_bytes(path))
    except FileNotFoundError:
        return None
    return record if record.origin == origin else None


def _record_of(witness: Path, project: str) -> Record | None:
    logs = witness / "logs"
    paths = sorted(logs.glob("*.json")) if logs.is_dir() else []
    kept = [r for r in (_parse_record(p, read_bytes(p)) for p in paths) if r.project == project]
    return max(kept, key=lambda r: r.enrolled) if kept else None


def _refusals(witness: Path, origin: str) -> list[tuple[str, str, Any]]:
    try:
        data = read_bytes(_log_file(witness, origin, "refused"))
    except FileNotFoundError:
        return []
    found = []
    for line in data.splitlines():
        try:
            value = json.loads(line)
            at, _status, reason, after = (
                value["at"],
                value["status"],
                value["reason"],
                value["after"],
            )
            found.append((at, reason, after))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def view(witness: Path, origin: str | None, folder: Path) -> View:
    """What the witness keeps about this log, read before the log itself."""
    seen = View(str(witness))
    try:
        seen.identity = _identity(witness)
        if seen.identity is not None:
            seen.record = _record(witness, origin) if origin else None
            seen.project = _record_of(witness, str(folder)) if not seen.record else None
            seen.refusals = _refusals(witness, origin) if origin and seen.record else []
    except (OSError, WitnessError, FileProblem) as exc:
        seen.error = str(exc)
    return seen


@dataclass(frozen=True)
class LogFacts:
    origin: str | None
    log_key: str | None
    lines: int
    root_at: Callable[[int], bytes | None]
    announced: list[tuple[int, dict[str, Any]]]  # (1-based line, witness_configured event)


def _when(record: Record, identity: tuple[str, bytes]) -> str:
    stamp = record.checkpoint and cosigned_at(record.checkpoint, *identity)
    if not stamp:
        return "?"
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _named(event: dict[str, Any]) -> tuple[str, str]:
    named = event.get("witness")
    if not isinstance(named, dict):
        return "?", ""
    return str(named.get("name", "?")), str(named.get("verifier_key", ""))


def _witness_vkey(identity: tuple[str, bytes]) -> str:
    name, public = identity
    kid = key_id(name, public, COSIGNATURE_V1).hex()
    return f"{name}+{kid}+{base64.b64encode(COSIGNATURE_V1 + public).decode()}"


def hold(seen: View | None, log: LogFacts) -> list[Problem]:
    """Every way the log departs from what its witness keeps."""
    last = log.announced[-1] if log.announced else None
    if seen is None:
        if last is None:
            return []
        line, event = last
        return [
            Problem(
                "WITNESS",
                f"line {line}: the log says a witness keeps this log, but none is configured "
                f"(it named {_named(event)[0]}; [ledger] witness in sealguard.toml)",
                line,
            )
        ]
    if seen.error is not None:
        if not log.lines and last is None:
            return []
        return [Problem("WITNESS", f"{seen.where}: the witness cannot be read ({seen.error})")]
    if seen.identity is None:
        if last is None:
            return []
        return [
            Problem(
                "WITNESS",
                f"line {last[0]}: the log says witness {_named(last[1])[0]} keeps it, but "
                f"{seen.where} holds no witness",
                last[0],
            )
        ]
    return _against(seen, seen.identity, log, last)


def _against(
    seen: View, identity: tuple[str, bytes], log: LogFacts, last: tuple[int, dict[str, Any]] | None
) -> list[Problem]:
    found: list[Problem] = []
    if last is not None and _named(last[1])[1] != _witness_vkey(identity):
        found.append(
            Problem(
                "WITNESS",
                f"line {last[0]}: the log says witness {_named(last[1])[0]} keeps it, but "
                f"{seen.where} is witness {identity[0]}",
                last[0],
            )
        )
    if seen.record is None:
        return found + _unknown(seen, identity, log, last)
    return found + _kept(seen, seen.record, identity, log)


def _unknown(
    seen: View, identity: tuple[str, bytes], log: LogFacts, last: tuple[int, dict[str, Any]] | None
) -> list[Problem]:
    other = seen.project
    if other is not None:
        kept = (
            f"the witness keeps this log folder as log {other.origin} ({other.size} lines "
            f"cosigned, the last at {_when(other, identity)})"
        )
        if log.origin is None:
            return [Problem("WITNESS", f"{kept}, but the log here is gone or names no key")]
        return [
            Problem(
                "WITNESS",
                f"{kept}, but this log is {log.origin}: the project was re-sealed or re-keyed",
                1,
            )
        ]
    if last is not None and _named(last[1])[1] == _witness_vkey(identity):
        return [
            Problem(
                "WITNESS",
                f"line {last[0]}: the log says witness {identity[0]} keeps it, but the witness "
                f"holds no record of log {log.origin}",
                last[0],
            )
        ]
    return []


def _kept(seen: View, record: Record, identity: tuple[str, bytes], log: LogFacts) -> list[Problem]:
    found: list[Problem] = []
    when = _when(record, identity)
    if log.log_key is not None and record.log_key != log.log_key:
        found.append(
            Problem(
                "WITNESS",
                f"line 1 names the log key {log.log_key}, but the witness keeps origin "
                f"{record.origin} with the key {record.log_key}: the log was re-keyed",
                1,
            )
        )
    if record.checkpoint is not None and not _vouched(record.checkpoint, record, identity):
        found.append(
            Problem(
                "WITNESS",
                f"{seen.where}: the witness's record of {record.origin} is not signed by the log "
                f"key and cosigned by witness {identity[0]}",
            )
        )
    if record.size > log.lines:
        found.append(
            Problem(
                "TRUNCATION",
                f"the witness cosigned {record.size} lines at {when} but the log holds "
                f"{log.lines}: the log was cut back",
                log.lines + 1,
            )
        )
    elif log.root_at(record.size) != record.root:
        found.append(
            Problem(
                "FORK",
                f"the log's first {record.size} lines are not the ones the witness cosigned at "
                f"{when}: the history was rewritten",
            )
        )
    found += [
        Problem("REFUSED", f"the witness refused a checkpoint of this log at {at}: {reason}")
        for at, reason, after in seen.refusals
        if after == record.accepted
    ]
    return found


def _vouched(checkpoint: Checkpoint, record: Record, identity: tuple[str, bytes]) -> bool:
    try:
        name, public = parse_verifier_key(record.log_key)
    except NoteError:
        return False
    return signed_by(checkpoint, name, public) and cosigned_at(checkpoint, *identity) is not None


# ----- the checkpoints, held against the tree ------------------------------------------------


@dataclass
class Local:
    """Every note of checkpoint.history, and the checkpoint file: (where, checkpoint)."""

    history: list[tuple[str, Checkpoint]] = field(default_factory=list)
    latest: tuple[str, Checkpoint] | None = None
    latest_state: str = "missing"  # "read", "missing" or "unreadable"

    @property
    def sources(self) -> list[tuple[str, Checkpoint]]:
        return self.history + ([self.latest] if self.latest else [])


def _notes(path: Path, is_history: bool) -> list[str]:
    if _not_regular(path):
        return []  # reported, never read
    try:
        text = read_bytes(path).decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return split_history(text) if is_history else [text]


def read_checkpoints(folder: Path, report: Report) -> Local:
    local = Local()
    for name, is_history in (("checkpoint.history", True), ("checkpoint", False)):
        for number, body in enumerate(_notes(folder / name, is_history), start=1):
            where = f"{name} #{number}" if is_history else name
            try:
                source = (where, parse_note(body))
            except NoteError as exc:
                report.problems.append(
                    Problem("CHECKPOINT", f"{where}: unreadable checkpoint: {exc}")
                )
                if not is_history:
                    local.latest_state = "unreadable"
                continue
            if is_history:
                local.history.append(source)
            else:
                local.latest, local.latest_state = source, "read"
    return local


def hold_checkpoints(
    sources: list[tuple[str, Checkpoint]], tree: Tree, key: tuple[str, bytes] | None, report: Report
) -> None:
    previous: dict[str, int] = {}
    for where, cp in sources:
        if key is not None and (cp.origin != key[0] or not signed_by(cp, *key)):
            report.problems.append(
                Problem(
                    "SIGNATURE",
                    f"{where}: not signed by the log key of line 1 (origin {cp.origin})",
                )
            )
        history = where.rsplit(" #", 1)[0]
        if cp.size < previous.get(history, 0):
            report.problems.append(
                Problem(
                    "ROLLBACK", f"{where}: size {cp.size} is smaller than an earlier checkpoint's"
                )
            )
        previous[history] = max(previous.get(history, 0), cp.size)
        if cp.size > report.lines:
            report.problems.append(
                Problem(
                    "TRUNCATION",
                    f"{where}: covers {cp.size} lines but the log holds {report.lines}",
                    report.lines + 1,
                )
            )
        elif tree.roots.get(cp.size) != cp.root:
            low = _last_good_size(cp.size, sources, tree) + 1
            lines = f"line {cp.size}" if low == cp.size else f"lines {low}-{cp.size}"
            message = (
                f"{where}: the log's first {cp.size} lines have another root than this "
                f"checkpoint: FORK ({lines} altered, inserted or removed)"
            )
            report.problems.append(Problem("FORK", message, low))
    report.checkpoints = len({cp.note() for _, cp in sources})
    report.latest = max((cp.size for _, cp in sources), default=None)


def _last_good_size(size: int, sources: list[tuple[str, Checkpoint]], tree: Tree) -> int:
    good = [cp.size for _, cp in sources if cp.size < size and tree.roots.get(cp.size) == cp.root]
    return max(good, default=0)


@dataclass(frozen=True)
class Intent:
    """What the last writer announced it was about to append, signed with the log key."""

    base: int
    offset: int
    data: bytes

    def covers(self, base: int, offset: int, tail: bytes) -> bool:
        return (base, offset) == (self.base, self.offset) and self.data.startswith(tail)


def read_intent(folder: Path, public: bytes) -> Intent | None:
    try:
        body, signature = read_bytes(folder / ".ledger-pending").decode().split("\n")[:2]
        if not verifies(public, base64.b64decode(signature), body.encode()):
            return None
        data = json.loads(body)
        return Intent(int(data["base"]), int(data["offset"]), base64.b64decode(data["data"]))
    except (OSError, FileProblem, ValueError, KeyError, TypeError, binascii.Error):
        return None


def check_latest(folder: Path, local: Local, key: tuple[str, bytes] | None, report: Report) -> None:
    """ROLLBACK unless the checkpoint file is the newest note of the history (or a crash fell
    between the two writes, with the writer's signed intent starting where that file ends)."""
    if local.latest_state == "unreadable" or not local.history:
        return
    newest = local.history[-1][1]
    latest = local.latest[1] if local.latest else None
    if latest is not None and (latest.size, latest.root) == (newest.size, newest.root):
        return
    if latest is not None and latest.size > newest.size:
        report.problems.append(
            Problem(
                "ROLLBACK",
                f"checkpoint.history ends at size {newest.size}, older than checkpoint "
                f"(size {latest.size}): the history was cut back",
            )
        )
        return
    before = local.history[-2][1] if len(local.history) > 1 else None
    same = (latest is None and before is None) or (
        latest is not None
        and before is not None
        and (latest.size, latest.root) == (before.size, before.root)
    )
    intent = read_intent(folder, key[1]) if key and same else None
    if intent is not None and intent.base == (latest.size if latest else 0):
        return
    size = latest.size if latest else "none"
    report.problems.append(
        Problem(
            "ROLLBACK",
            f"checkpoint (size {size}) is not the newest note of checkpoint.history "
            f"(size {newest.size}): the latest checkpoint was rolled back",
        )
    )


def check_unsigned(
    folder: Path, published: int, tree: Tree, key: tuple[str, bytes] | None, report: Report
) -> None:
    """Bytes after the last checkpoint are a crash's leftovers only if a writer announced them."""
    start = tree.offsets.get(published)
    if start is None or published > report.lines:
        return
    with open_read(folder / LOG_NAME) as stream:
        stream.seek(start)
        tail = stream.read()
    if not tail:
        return
    intent = read_intent(folder, key[1]) if key else None
    if intent is not None and intent.covers(published, start, tail):
        report.unpublished = report.lines - published
        return
    report.problems.append(
        Problem(
            "UNSIGNED",
            f"line {published + 1} onwards ({len(tail)} bytes) follows the last checkpoint but was "
            "not announced by a sealguard writer",
            published + 1,
        )
    )


# ----- the whole check -------------------------------------------------------------------------


def _first_event(log: Path) -> dict[str, Any] | None:
    try:
        with open_read(log) as stream:
            line = stream.readline()
    except FileNotFoundError:
        return None
    try:
        value = decode(line.rstrip(b"\n"))
    except (_NotJson, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _verifier_key(first: dict[str, Any] | None) -> str:
    if first is None:
        raise KeyError("no first event")
    return str(first["log_key"]["verifier_key"])


def _log_key(first: dict[str, Any] | None, report: Report) -> tuple[str, bytes] | None:
    try:
        return parse_verifier_key(_verifier_key(first))
    except (KeyError, TypeError, NoteError) as exc:
        report.problems.append(
            Problem("KEY", f"line 1: the first event does not carry a usable log key ({exc})", 1)
        )
        return None


def _origin(first: dict[str, Any] | None) -> str | None:
    try:
        return parse_verifier_key(_verifier_key(first))[0]
    except (KeyError, TypeError, NoteError):
        return None


def scan(log: Path, tree: Tree, report: Report) -> LineChecker:
    """Every line checked and put in the tree, in one pass."""
    checker, offset, tail = LineChecker(), 0, b""
    try:
        stream = open_read(log)
    except FileNotFoundError:
        return checker
    with stream:
        for raw in stream:
            if not raw.endswith(b"\n"):
                tail = raw  # a write cut short, not yet a line
                break
            line = raw[:-1]
            checker.line(tree.size, line, offset)
            offset += len(raw)
            tree.push(line, offset)
    checker.unaccounted()
    report.problems += checker.problems
    report.torn_tails += checker.torn_tails
    report.pending_tail, report.lines, report.root = len(tail), tree.size, tree.root()
    return checker


def check(folder: Path, witness: Path | None = None) -> Report:
    """Check the log in `folder` (with `folder/witness` when there is one); list what is wrong.
    Unreadable when a file of the log is a folder, FIFO, socket or device."""
    folder = folder.resolve()
    paths = [folder / name for name in (LOG_NAME, "checkpoint", "checkpoint.history")]
    for path in paths:
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            raise Unreadable(_special_message(path))
    if witness is None and (folder / "witness").is_dir():
        witness = folder / "witness"
    report = Report(problems=[p for p in map(_not_regular, paths) if p is not None])
    if _not_regular(paths[0]):
        return report
    local = read_checkpoints(folder, report)
    first = _first_event(paths[0])
    seen = view(witness, _origin(first), folder) if witness is not None else None
    witnessed = {seen.record.size} if seen and seen.record else set()
    tree = Tree({cp.size for _, cp in local.sources} | witnessed)
    checker = scan(paths[0], tree, report)
    key = _log_key(first, report) if report.lines else None
    report.log_key = _verifier_key(first) if key else None
    hold_checkpoints(local.sources, tree, key, report)
    check_latest(folder, local, key, report)
    published = max((cp.size for _, cp in local.sources), default=0)
    if report.lines or report.pending_tail:
        check_unsigned(folder, published, tree, key, report)
    facts = LogFacts(
        _origin(first) if key else None,
        report.log_key,
        report.lines,
        tree.roots.get,
        checker.witnesses,
    )
    report.problems += hold(seen, facts)
    report.problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return report


# ----- what people read ------------------------------------------------------------------------

_UNSAFE = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"
_SHORT = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _safe_text(text: str) -> str:
    """Control and bidi characters as escapes, so that a message cannot drive the terminal."""
    import re

    def escaped(char: str) -> str:
        data = char.encode("utf-8", "surrogatepass")
        return _SHORT.get(char) or "".join(f"\\x{b:02X}" for b in data)

    return re.sub(f"[{_UNSAFE}]", lambda m: escaped(m[0]), text)


def render(report: Report) -> str:
    if not report.problems:
        root = base64.b64encode(report.root).decode()
        lines = [
            f"INTACT: {report.lines:,} lines, tree root {root}; {report.checkpoints:,} "
            f"checkpoints hold (the latest covers {report.latest or 0:,} lines)"
        ]
    else:
        located = [p for p in report.problems if p.line is not None]
        first = min(located, key=lambda p: p.line or 0) if located else report.problems[0]
        lines = [
            "INCIDENT: the governance log is not intact (INV-D-03): " + _safe_text(first.message)
        ]
        lines += [f"  {p.kind}: {_safe_text(p.message)}" for p in report.problems]
    if report.torn_tails:
        lines.append(
            "torn writes accounted for by torn_tail events: lines "
            + ", ".join(map(str, report.torn_tails))
        )
    if report.unpublished:
        lines.append(
            f"note: the last {report.unpublished} lines were written and announced but their "
            "checkpoint was not published (a crash); the next append publishes it"
        )
    if report.pending_tail:
        lines.append(
            f"note: {report.pending_tail} bytes after the last newline (a write cut short); "
            "the next append records them as a torn tail"
        )
    if report.log_key:
        lines.append(
            f"log key (line 1): {report.log_key}: trust the result only if this is the key you "
            "obtained from the log's owner some other way (or the witness's key is)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="verify.py", description="Check a sealguard governance log export, offline."
    )
    parser.add_argument(
        "folder", nargs="?", type=Path, default=Path(__file__).resolve().parent,
        help="the extracted export (by default, the folder this file is in)",
    )  # fmt: skip
    parser.add_argument("--witness", type=Path, help="hold the log against this witness folder")
    args = parser.parse_args(argv)
    try:
        import cryptography  # noqa: F401
    except ImportError:
        sys.stderr.write("verify.py needs the cryptography package: pip install cryptography\n")
        return EXIT_UNAVAILABLE
    folder: Path = args.folder
    if not (folder / LOG_NAME).exists() and not (folder / "checkpoint").exists():
        sys.stderr.write(f"{folder / LOG_NAME}: no governance log here\n")
        return EXIT_USAGE
    try:
        report = check(folder, args.witness.resolve() if args.witness else None)
    except (Unreadable, OSError) as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_DATA
    print(render(report))
    return EXIT_VIOLATED if report.problems else EXIT_INTACT


if __name__ == "__main__":
    sys.exit(main())
