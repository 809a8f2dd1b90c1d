"""The normalised output file (`output.normalized`), written and hashed in bounded memory.

Text is normalised line by line (see `normalize.Normalizer.pieces`); with `sort_lines`, the
lines are sorted in runs of RUN_CHARS characters spilled to files and merged (an external
sort), and lines too long to scrub follow the sorted ones in the order printed. A report is
written as canonical JSON (sorted keys, indent 1) encoded piece by piece, never as one string.
"""

import hashlib
import heapq
import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from sealguard.probes.normalize import LINE_LIMIT, Normalizer

RUN_CHARS = 16 << 20  # characters of lines sorted in memory at once with sort_lines
_FLUSH = 1 << 20


class _Sink:
    """Writes text as UTF-8 to a file and hashes it, in pieces of about a MiB."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.digest = out, hashlib.sha256()
        self.pending: list[str] = []
        self.size = 0

    def write(self, text: str) -> None:
        if len(text) >= _FLUSH:  # a long string of a report: not copied once more by a join
            self.flush()
            self._put(text.encode("utf-8"))
            return
        self.pending.append(text)
        self.size += len(text)
        if self.size >= _FLUSH:
            self.flush()

    def flush(self) -> None:
        self._put("".join(self.pending).encode("utf-8"))
        self.pending, self.size = [], 0

    def _put(self, data: bytes) -> None:
        self.digest.update(data)
        self.out.write(data)


def _spill(lines: list[str], path: Path) -> Path:
    lines.sort()
    with path.open("w", encoding="utf-8") as run:
        # as JSON strings: one line each in the file, whatever line ending they carry
        run.writelines(json.dumps(line) + "\n" for line in lines)
    return path


def _read_run(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as run:
        yield from (json.loads(line) for line in run)


def _sorted(pieces: Iterable[tuple[str, bool]], spill: Path, run_chars: int) -> Iterator[str]:
    spill.mkdir()
    runs: list[Path] = []
    batch: list[str] = []
    size = 0
    try:
        with (spill / "long").open("w+", encoding="utf-8", newline="") as long:
            for text, whole in pieces:
                if not whole:
                    long.write(text)
                    continue
                batch.append(text)
                size += len(text)
                if size >= run_chars:
                    runs.append(_spill(batch, spill / f"run-{len(runs)}"))
                    batch, size = [], 0
            batch.sort()
            yield from heapq.merge(batch, *(_read_run(run) for run in runs))
            long.seek(0)
            while chunk := long.read(_FLUSH):
                yield chunk
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def write_text(
    normalizer: Normalizer,
    source: Path,
    target: Path,
    *,
    run_chars: int = RUN_CHARS,
    line_limit: int = LINE_LIMIT,
) -> str:
    """Write the normalised text of `source` to `target`; returns its sha256."""
    with (
        source.open("r", encoding="utf-8", errors="replace", newline="") as stream,
        target.open("wb") as out,
    ):
        sink = _Sink(out)
        pieces = normalizer.pieces(stream, line_limit)
        spill = target.with_name(f".{target.name}.sort")
        sort = normalizer.sort_lines
        for text in _sorted(pieces, spill, run_chars) if sort else (p for p, _ in pieces):
            sink.write(text)
        sink.flush()
    return sink.digest.hexdigest()


def write_document(normalizer: Normalizer, document: Any, target: Path) -> str:
    """Write a report, normalised, as canonical JSON to `target`; returns its sha256."""
    encoder = json.JSONEncoder(sort_keys=True, indent=1, ensure_ascii=False)
    with target.open("wb") as out:
        sink = _Sink(out)
        for piece in encoder.iterencode(normalizer.document(document)):
            sink.write(piece)
        sink.write("\n")
        sink.flush()
    return sink.digest.hexdigest()
