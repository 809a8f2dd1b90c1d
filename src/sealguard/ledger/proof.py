"""Inclusion proofs: one event shown to be in the log a checkpoint signed (RFC 9162 §2.1.3).

A proof bundle is a JSON object that can be checked offline with nothing but the bundle and,
ideally, a verifier key obtained some other way:

    {"format": "sealguard-inclusion-proof/1", "seq": 5, "tree_size": 9,
     "line_b64": "<the exact log line, base64>", "event": {...},
     "proof": ["<base64 sibling hash>", ...], "checkpoint": "<signed note>",
     "verifier_key": "<name>+<key id>+<base64 key>"}
"""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from sealguard.errors import DataError, UsageError
from sealguard.ledger import note
from sealguard.ledger.canonical import DECODE_ERRORS, decode_line
from sealguard.ledger.layout import Ledger
from sealguard.ledger.lines import batches
from sealguard.ledger.merkle import inclusion_proof, leaf_hash, root_from_inclusion
from sealguard.ledger.reader import read_first_event
from sealguard.ledger.view import latest_checkpoint

FORMAT = "sealguard-inclusion-proof/1"


def _latest(ledger: Ledger) -> note.Checkpoint:
    return latest_checkpoint(ledger, "no checkpoint yet; nothing can be proved")


def prove(ledger: Ledger, seq: int) -> dict[str, Any]:
    """The inclusion proof of line `seq` against the latest checkpoint."""
    checkpoint = _latest(ledger)
    if not 0 <= seq < checkpoint.size:
        raise UsageError(
            f"seq {seq} is not covered by the latest checkpoint "
            f"(it covers 0..{checkpoint.size - 1})"
        )
    leaves: list[bytes] = []
    line = b""
    for lines, _ in batches(ledger.log, []):
        for item in lines:
            if len(leaves) == seq:
                line = item
            leaves.append(leaf_hash(item))
    if len(leaves) < checkpoint.size:
        raise DataError(
            f"{ledger.log}: holds {len(leaves)} lines, "
            f"fewer than its checkpoint's {checkpoint.size}"
        )
    first = read_first_event(ledger.log) or {}
    verifier_key = first.get("log_key", {}).get("verifier_key", "")
    return bundle(
        seq, line, inclusion_proof(leaves[: checkpoint.size], seq), checkpoint, verifier_key
    )


def bundle(
    seq: int, line: bytes, path: list[bytes], checkpoint: note.Checkpoint, verifier_key: str
) -> dict[str, Any]:
    """The proof bundle of line `seq` (its audit path `path`) against `checkpoint`; the one
    format of every proof sealguard writes (from the log's files, or the fleet database)."""
    try:
        event = decode_line(line)
    except DECODE_ERRORS:
        event = None
    return {
        "format": FORMAT,
        "seq": seq,
        "tree_size": checkpoint.size,
        "line_b64": base64.b64encode(line).decode(),
        "event": event,
        "proof": [base64.b64encode(h).decode() for h in path],
        "checkpoint": checkpoint.note(),
        "verifier_key": verifier_key,
    }


@dataclass(frozen=True)
class ProofCheck:
    valid: bool
    reason: str
    key_source: str  # "--key" or "the bundle itself"


def parse_bundle(data: bytes, name: str) -> Any:
    """The JSON in a proof file; a DataError naming `name` when it is not JSON."""
    try:
        return json.loads(data)
    except ValueError as exc:
        raise DataError(f"{name}: not a JSON proof bundle ({exc})") from None
    except RecursionError:  # json recurses once per level of nesting
        raise DataError(f"{name}: not a JSON proof bundle (nested too deeply)") from None


def _field(bundle: dict[str, Any], name: str, kind: type) -> Any:
    value = bundle.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError(f"proof bundle: `{name}` is missing or not a {kind.__name__}")
    return value


def check_proof(bundle: Any, trusted_key: str | None) -> ProofCheck:
    """Verify a bundle offline; a malformed bundle is a DataError."""
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise DataError(f"proof bundle: not a {FORMAT} object")
    seq, size = _field(bundle, "seq", int), _field(bundle, "tree_size", int)
    try:
        line = base64.b64decode(_field(bundle, "line_b64", str), validate=True)
        proof = [base64.b64decode(h, validate=True) for h in _field(bundle, "proof", list)]
        checkpoint = note.parse(_field(bundle, "checkpoint", str))
        name, public = note.parse_verifier_key(trusted_key or _field(bundle, "verifier_key", str))
    except (binascii.Error, TypeError) as exc:
        raise DataError(f"proof bundle: bad base64 ({exc})") from None
    except note.NoteError as exc:
        raise DataError(f"proof bundle: {exc}") from None
    source = "--key" if trusted_key else "the bundle itself"
    if not note.signed_by(checkpoint, name, public):
        return ProofCheck(False, f"the checkpoint is not signed by the key from {source}", source)
    if checkpoint.size != size:
        return ProofCheck(
            False,
            f"the proof is for a tree of {size}, the checkpoint covers {checkpoint.size}",
            source,
        )
    if root_from_inclusion(seq, size, leaf_hash(line), proof) != checkpoint.root:
        return ProofCheck(
            False,
            "the proof does not lead to the checkpoint's root: the event is not the one logged",
            source,
        )
    if bundle.get("event") is not None and _decoded(line) != bundle["event"]:
        return ProofCheck(False, "`event` differs from the proved line", source)
    return ProofCheck(
        True,
        f"event seq {seq} is in the log of {size} lines that {checkpoint.origin} signed",
        source,
    )


def _decoded(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None
