"""A witness: a keeper of a log's checkpoints outside the observer's reach (C2SP tlog-witness).

For every log it keeps, a witness records the log's origin, its public key, the log folder it was
enrolled from (the project), and the latest checkpoint it cosigned. It cosigns a new checkpoint
only when that key signed it and a consistency proof shows it extends the recorded one; anything
else is refused, and the refusal kept as evidence. `Witness` is what a log talks to: a folder on
another disk or mount is the first kind; a remote witness speaking the C2SP HTTP protocol
(add-checkpoint, with the same answers) can be another.

A witness folder holds:

    witness.pem         the witness's Ed25519 key (mode 0600)
    witness.vkey        its verifier key: <name>+<key id>+<base64(0x04 || key)>
    logs/<id>.json      the record of one log (id: 32 hex digits of SHA-256(origin))
    logs/<id>.cosigned  every checkpoint it cosigned for that log, each followed by a blank line
    logs/<id>.refused   every submission it refused for that log, one JSON object a line
    .lock               held while a submission is checked and recorded
"""

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealguard.errors import DataError, RefusedError
from sealguard.fsio import write_atomic, write_new
from sealguard.ledger import cosignature, files, note
from sealguard.ledger.clock import utc_now
from sealguard.ledger.merkle import EMPTY_ROOT, verify_consistency

KEY_NAME = "witness.pem"
VKEY_NAME = "witness.vkey"
LOGS = "logs"
RECORD_FORMAT = "sealguard-witness-record/1"
MAX_PROOF = 63  # C2SP: no more than 63 consistency proof lines


@dataclass(frozen=True)
class Identity:
    """Who a witness is: the name and public key its cosignatures verify with."""

    name: str
    public: bytes

    @property
    def verifier_key(self) -> str:
        return cosignature.verifier_key(self.name, self.public)


@dataclass(frozen=True)
class LogRecord:
    """What a witness keeps for one log."""

    origin: str
    log_key: str  # the log's verifier key, as enrolled
    project: str  # the log folder it was enrolled from
    enrolled: str  # UTC
    accepted: int  # how many checkpoints it has cosigned
    checkpoint: note.Checkpoint | None  # the latest, with the log's signature and the cosignature

    @property
    def size(self) -> int:
        return self.checkpoint.size if self.checkpoint else 0

    @property
    def root(self) -> bytes:
        return self.checkpoint.root if self.checkpoint else EMPTY_ROOT


@dataclass(frozen=True)
class Refusal:
    """Why a witness did not cosign, with the C2SP add-checkpoint status it stands for."""

    status: int  # 400 bad request, 403 bad signature, 404 unknown log, 409 conflict, 422 proof
    reason: str
    size: int | None = None  # with a 409 for a wrong old size: the size the witness holds


@dataclass(frozen=True)
class Refused:
    """A refusal the witness kept as evidence."""

    at: str
    status: int
    reason: str
    after: int  # how many checkpoints the witness had cosigned then (pending while unchanged)


class Witness(Protocol):
    """The interface between a log and its witness. `add_checkpoint` is C2SP's add-checkpoint
    (a remote witness answers it over HTTP with the same statuses); `enrol` is a remote
    witness's configuration of the logs it accepts; the reads are its monitoring side."""

    @property
    def where(self) -> str:
        """Where it is, for messages."""
        ...

    def identity(self) -> Identity | None:
        """Its name and public key; None where there is no witness (yet)."""
        ...

    def record(self, origin: str) -> LogRecord | None:
        """What it keeps for the log of this origin."""
        ...

    def record_of(self, project: str) -> LogRecord | None:
        """What it keeps for the log last enrolled from this log folder."""
        ...

    def refusals(self, origin: str) -> list[Refused]:
        """Every submission it refused for the log of this origin."""
        ...

    def enrol(self, origin: str, log_key: str, project: str) -> Refusal | None:
        """Start keeping a log; refused for a known origin with another key, or a known
        project under another origin."""
        ...

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], text: str) -> str | Refusal:
        """The cosignature lines, or why the checkpoint is not a consistent extension."""
        ...


def witness_name(public: bytes) -> str:
    return "sealguard.local/witness/" + hashlib.sha256(public).hexdigest()[:16]


def log_id(origin: str) -> str:
    return hashlib.sha256(origin.encode()).hexdigest()[:32]


def _checkpoint_text(record: LogRecord) -> str | None:
    return record.checkpoint.note() if record.checkpoint else None


def _record_json(record: LogRecord) -> bytes:
    data = {
        "format": RECORD_FORMAT, "origin": record.origin, "log_key": record.log_key,
        "project": record.project, "enrolled": record.enrolled, "accepted": record.accepted,
        "checkpoint": _checkpoint_text(record),
    }  # fmt: skip
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def _parse_record(path: Path, data: bytes) -> LogRecord:
    try:
        value = json.loads(data)
        if value["format"] != RECORD_FORMAT:
            raise ValueError(f"format {value['format']!r}")
        text = value["checkpoint"]
        return LogRecord(
            str(value["origin"]), str(value["log_key"]), str(value["project"]),
            str(value["enrolled"]), int(value["accepted"]),
            note.parse(text) if text is not None else None,
        )  # fmt: skip
    except (ValueError, KeyError, TypeError, note.NoteError) as exc:
        raise DataError(f"{path}: not a witness record ({exc})") from None


class FolderWitness:
    """A witness kept in a folder the observer can write to, out of an intruder's reach."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def where(self) -> str:
        return str(self.folder)

    def _log_file(self, origin: str, suffix: str) -> Path:
        return self.folder / LOGS / f"{log_id(origin)}.{suffix}"

    def identity(self) -> Identity | None:
        try:
            text = files.read_bytes(self.folder / VKEY_NAME).decode()
            name, public = cosignature.parse_verifier_key(text)
        except FileNotFoundError:
            return None
        except (UnicodeDecodeError, note.NoteError) as exc:
            raise DataError(f"{self.folder / VKEY_NAME}: not a witness key ({exc})") from None
        return Identity(name, public)

    def is_fresh(self) -> bool:
        """No key and no log yet: a folder a witness can be made in."""
        return not (self.folder / VKEY_NAME).exists() and not (self.folder / LOGS).exists()

    def create(self) -> Identity:
        """Make the witness's key; refused where a witness already is."""
        if not self.is_fresh():
            raise RefusedError(f"{self.folder}: already holds a witness (or its logs)")
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes_raw()
        self.folder.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_new(self.folder / KEY_NAME, pem, mode=0o600)
        os.chmod(self.folder / KEY_NAME, 0o600)  # whatever the umask
        identity = Identity(witness_name(public), public)
        write_new(self.folder / VKEY_NAME, (identity.verifier_key + "\n").encode())
        return identity

    def _key(self) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key(
            files.read_bytes(self.folder / KEY_NAME), password=None
        )
        if not isinstance(key, Ed25519PrivateKey):
            raise DataError(f"{self.folder / KEY_NAME}: not an Ed25519 private key")
        return key

    def records(self) -> list[LogRecord]:
        folder = self.folder / LOGS
        paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
        return [_parse_record(path, files.read_bytes(path)) for path in paths]

    def record(self, origin: str) -> LogRecord | None:
        path = self._log_file(origin, "json")
        try:
            record = _parse_record(path, files.read_bytes(path))
        except FileNotFoundError:
            return None
        return record if record.origin == origin else None

    def record_of(self, project: str) -> LogRecord | None:
        """The log most recently enrolled from this log folder."""
        kept = [r for r in self.records() if r.project == project]
        return max(kept, key=lambda r: r.enrolled) if kept else None

    def refusals(self, origin: str) -> list[Refused]:
        try:
            data = files.read_bytes(self._log_file(origin, "refused"))
        except FileNotFoundError:
            return []
        found = []
        for line in data.splitlines():
            try:
                value = json.loads(line)
                found.append(Refused(value["at"], value["status"], value["reason"], value["after"]))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash
        return found

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = files.open_fd(self.folder / ".lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _save(self, record: LogRecord) -> None:
        (self.folder / LOGS).mkdir(parents=True, exist_ok=True)
        write_atomic(self._log_file(record.origin, "json"), _record_json(record))

    def _refuse(self, record: LogRecord, refusal: Refusal, text: str) -> Refusal:
        """Keep the refusal, with what was submitted, as evidence; then answer with it."""
        entry = {
            "at": utc_now(), "status": refusal.status, "reason": refusal.reason,
            "after": record.accepted, "submitted": text,
        }  # fmt: skip
        line = json.dumps(entry, sort_keys=True).encode() + b"\n"
        files.append_synced(self._log_file(record.origin, "refused"), line)
        return refusal

    def enrol(self, origin: str, log_key: str, project: str) -> Refusal | None:
        """Keep a new log (trust on first use); a known project under a new origin is refused."""
        with self._locked():
            known = self.record(origin)
            if known is not None:
                if known.log_key == log_key:
                    return None
                return self._refuse(known, Refusal(403, _rekeyed(known, log_key)), log_key)
            other = self.record_of(project)
            if other is not None:
                return self._refuse(other, Refusal(409, _resealed(other, origin)), origin)
            self._save(LogRecord(origin, log_key, project, utc_now(), 0, None))
            return None

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], text: str) -> str | Refusal:
        try:
            checkpoint = note.parse(text)
        except note.NoteError as exc:
            return Refusal(400, f"not a checkpoint ({exc})")
        with self._locked():
            record = self.record(checkpoint.origin)
            if record is None:
                return Refusal(404, f"unknown log origin {checkpoint.origin}")
            refusal = _judge(record, old_size, proof, checkpoint)
            if refusal is not None:
                return refusal if refusal.size is not None else self._refuse(record, refusal, text)
            identity = self.identity()
            if identity is None:
                raise DataError(f"{self.folder}: the witness's key is gone ({VKEY_NAME})")
            cosigned = cosignature.cosign(checkpoint, identity.name, self._key(), int(time.time()))
            kept = LogRecord(
                record.origin, record.log_key, record.project, record.enrolled,
                record.accepted + 1, cosigned,
            )  # fmt: skip
            history = self._log_file(record.origin, "cosigned")
            files.append_synced(history, cosigned.note().encode() + b"\n")
            self._save(kept)  # persisted before answering
        return cosigned.signature_lines(len(checkpoint.signatures))


def _rekeyed(record: LogRecord, log_key: str) -> str:
    return (
        f"origin {record.origin} is kept with the log key {record.log_key}, not {log_key}: "
        "the log was re-keyed"
    )


def _resealed(record: LogRecord, origin: str) -> str:
    return (
        f"the witness keeps {record.project} as log {record.origin} "
        f"({record.size} lines cosigned); a log with origin {origin} there means the project "
        "was re-sealed or re-keyed"
    )


def _judge(
    record: LogRecord, old_size: int, proof: Sequence[bytes], checkpoint: note.Checkpoint
) -> Refusal | None:
    """The C2SP add-checkpoint rules in their order; None when the checkpoint extends the record."""
    try:
        name, public = note.parse_verifier_key(record.log_key)
    except note.NoteError as exc:
        return Refusal(403, f"the enrolled log key is unusable ({exc})")
    if not note.signed_by(checkpoint, name, public):
        return Refusal(403, f"not signed by the log key enrolled for {record.origin}")
    if old_size > checkpoint.size:
        return Refusal(
            400, f"size {checkpoint.size} is smaller than the {old_size} lines already cosigned"
        )
    if old_size != record.size:
        return Refusal(409, f"the witness holds {record.size} lines, not {old_size}", record.size)
    if old_size == checkpoint.size and checkpoint.root != record.root:
        return Refusal(409, f"another root at the {old_size} lines already cosigned: a fork")
    if len(proof) > MAX_PROOF or not verify_consistency(
        old_size, checkpoint.size, record.root, checkpoint.root, proof
    ):
        return Refusal(
            422, f"no proof that {checkpoint.size} lines extend the {old_size} lines cosigned"
        )
    return None
