"""The timeline's rows without reading the whole log: a cache kept at the log's verified state.

A report draws every observation (its class, time, probe durations and test counts), so unlike
the state of observation it cannot do with the journal's digest of notable events
(ledger/journal.py), which leaves routine STABLE observations out. This cache holds the row of
every observation (report/trail.py `Observation`) of the log's first `lines` lines, where
`lines` was the size of the verified state (ledger/verified.py) when it was saved: a checkpoint
the log key signed, whose root it records. It is signed with the log key, as the digest is.

It is used only while the verified state is usable (signed, and the log and its history have
the identity the last audit that found them intact recorded: nothing but a sealguard writer
touched them since) and at or below that state's size; when at the state's size, its root must
be the state's. Rows after it are read from the log: up to the verified state, then saved again
there (when the log key can be read); after the state, every time. Without a usable state, or a
log key, every row is read from the log.

What it proves: no more than the log key's signature over it. Whoever holds the log key could
forge it, as they could forge checkpoints; the witness, and a full audit, are what hold the log
itself against that. A cache that fails any check is ignored, never trusted in part.
"""

import base64
import os
from collections.abc import Iterator
from typing import Any

import msgspec

from sealguard.ledger import journal, signed
from sealguard.ledger.auditor import appends_held
from sealguard.ledger.canonical import DECODE_ERRORS, decode_line
from sealguard.ledger.layout import Ledger
from sealguard.ledger.lines import batches
from sealguard.report.trail import Observation, RowFields, observation_row, row_of

DOMAIN = b"sealguard-report-rows/1\n"
_NEEDLE = b'"type":"runtime_event"'  # as every canonical runtime_event line spells it


class Cache(msgspec.Struct):
    lines: int
    length: int  # bytes of those lines
    root: str  # base64 root of the tree at `lines` (the signed checkpoint's)
    rows: list[Observation]
    # the log file it was read from (st_dev, st_ino): a signed cache copied from a copy of the
    # project (same seal, same log key, another history) is not this log's
    log: list[int] = []


_line = msgspec.json.Decoder(RowFields)
_cache = msgspec.json.Decoder(Cache)


def _row(line: bytes) -> Observation | None:
    """The row of a runtime_event line; a line of another type, or unreadable, has none (the
    audit reports what cannot be read). A field of the wrong type is a DataError."""
    if _NEEDLE not in line:
        return None
    try:
        typed = _line.decode(line)
    except (msgspec.ValidationError, *DECODE_ERRORS):
        try:
            value = decode_line(line)
        except DECODE_ERRORS:
            return None
        if not isinstance(value, dict) or value.get("type") != "runtime_event":
            return None
        return observation_row(value)  # says which field is wrong
    return row_of(typed) if typed.type == "runtime_event" else None


def read_rows(ledger: Ledger, start: int = 0, stop: int | None = None) -> Iterator[Observation]:
    """The rows of the runtime events from byte `start` (a line start), up to byte `stop`."""
    for lines, offset in batches(ledger.log, [], start):
        for line in lines:
            if stop is not None and offset >= stop:
                return
            offset += len(line) + 1
            if (row := _row(line)) is not None:
                yield row


def _load(ledger: Ledger, public: bytes) -> Cache | None:
    body = signed.read(ledger.index / "report-rows", public, DOMAIN)
    try:
        return _cache.decode(body) if body is not None else None
    except (msgspec.ValidationError, *DECODE_ERRORS):
        return None


def _save(ledger: Ledger, cache: Cache) -> None:
    from sealguard.ledger.incremental import signing_key

    key = signing_key(ledger)
    if key is not None:
        signed.write(ledger.index / "report-rows", msgspec.json.encode(cache), key, DOMAIN)


def _log_file(ledger: Ledger) -> list[int]:
    try:
        found = os.stat(ledger.log)
    except OSError:
        return []
    return [found.st_dev, found.st_ino]


def rows(ledger: Ledger) -> list[Observation]:
    """Every observation's row, in log order: from the cache as far as it holds, then the log."""
    public = journal.log_public_key(ledger)
    state = journal.usable_state(ledger, public) if public else None
    if public is None or state is None:
        return list(read_rows(ledger))
    root = base64.b64encode(state.range.root()).decode()
    cache = _load(ledger, public)
    log = _log_file(ledger)
    if (
        cache is None
        or cache.log != log
        or cache.lines > state.lines
        or (cache.lines == state.lines and cache.root != root)
    ):
        cache = Cache(lines=0, length=0, root="", rows=[], log=log)
    if cache.lines < state.lines:
        cache.rows.extend(read_rows(ledger, cache.length, state.length))
        cache.lines, cache.length, cache.root = state.lines, state.length, root
        _save(ledger, cache)
    return [*cache.rows, *read_rows(ledger, state.length)]


def load(ledger: Ledger) -> tuple[list[Observation], list[dict[str, Any]]]:
    """Every row, and the events the trail folds (the journal's digest and the log after it)."""
    if not ledger.log.is_file():
        return [], []
    with appends_held(ledger):  # both read at one moment: writers wait (a shared lock)
        return rows(ledger), journal.notable_events(ledger)
