"""Small factories for ledger tests."""

import os
from pathlib import Path

import pytest

from sealguard.ledger import Ledger, LogReport, append, auditor
from sealguard.ledger import writer as writer_module
from sealguard.ledger.keys import load_key, origin_for, public_bytes
from sealguard.ledger.merkle import CompactRange, leaf_hash
from sealguard.ledger.note import sign
from sealguard.project import Project

from .conftest import write_tree

real_audit = auditor.audit  # as sealguard has it, whatever a test puts in its place


def _both(ledger: Ledger, jobs: int = 1, full: bool = True) -> LogReport:
    reports = {mode: real_audit(ledger, jobs, full=mode) for mode in (True, False)}
    assert reports[False] == reports[True], (
        f"the fast audit differs from the full one:\n{reports[False]}\n{reports[True]}"
    )
    return reports[full]


def audit(ledger: Ledger, jobs: int = 1) -> LogReport:
    """The full audit, once the fast one (`log verify` without `--full`) gave the very same
    report on the same log. The fast one may skip checking again the lines that a verified
    checkpoint covers, so it can miss only what the log key itself signed; every tamper case of
    the ledger tests goes through here, and a test of a tamper it misses says so."""
    return _both(ledger, jobs)


def audit_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, every audit sealguard runs in this process (`verify`, `log verify`,
    `observe`) runs in both modes and must give the same report."""
    monkeypatch.setattr(auditor, "audit", _both)


def make_log(folder: Path, events: int, witness: Path | None = None) -> Ledger:
    ledger = Ledger.in_folder(folder, witness=witness)
    for i in range(events):
        append(ledger, "test_event", {"n": i, "note": f"event number {i}"})
    return ledger


def lines_of(ledger: Ledger) -> list[bytes]:
    return ledger.log.read_bytes().split(b"\n")[:-1]


def write_lines(ledger: Ledger, lines: list[bytes]) -> None:
    ledger.log.write_bytes(b"".join(line + b"\n" for line in lines))


TEXT_PROBE = (
    '[seal]\npaths = ["src/**"]\n\n'
    '[[probe]]\nname = "value"\ncommand = ["cat", "data/value.txt"]\nreport = "text"\n'
)


def witnessed_config(witness: Path | None) -> str:
    """A config with one fast text probe (`cat data/value.txt`), and a witness when given."""
    return TEXT_PROBE + (f'\n[ledger]\nwitness = "{witness}"\n' if witness else "")


def runtime_files(folder: Path) -> dict[Path, bytes]:
    """Every file under a runtime folder with its bytes: what an attacker saves to restore."""
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


def restore(folder: Path, saved: dict[Path, bytes]) -> None:
    """Put a runtime folder back as `saved` holds it: newer files removed, older bytes back."""
    for path in [p for p in folder.rglob("*") if p.is_file() or p.is_symlink()]:
        if path not in saved:
            path.unlink()
    for path, data in saved.items():
        path.write_bytes(data)


def probe_project(base: Path, witness: Path | None, name: str = "project") -> Project:
    """An unsealed project: one source file, and a probe that prints data/value.txt."""
    root = base / name
    write_tree(
        root,
        {
            "src/app.py": "print('hello')\n",
            "data/value.txt": "1\n",
            "governance/sealguard.toml": witnessed_config(witness),
        },
    )
    return Project(root)


def resign(ledger: Ledger, lines: list[bytes]) -> None:
    """What the holder of a stolen log key can do: write `lines` and re-sign every checkpoint."""
    key = load_key(ledger.key_file)
    origin = origin_for(public_bytes(key))
    tree = CompactRange()
    notes = []
    for line in lines:
        tree.push(leaf_hash(line))
        notes.append(sign(origin, tree.size, tree.root(), origin, key).note())
    write_lines(ledger, lines)
    ledger.history.write_text("".join(n + "\n" for n in notes))
    ledger.checkpoint.write_text(notes[-1])
    ledger.state.unlink(missing_ok=True)
    ledger.pending.unlink(missing_ok=True)


def cut_writes_to(limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next write of a `doomed` event stops after `limit` bytes, as a crash mid-write would."""
    real_write = os.write

    def cut(fd: int, data: bytes) -> int:
        if b'"type":"doomed"' in bytes(data):
            return real_write(fd, bytes(data)[:limit])
        return real_write(fd, data)

    monkeypatch.setattr(writer_module.os, "write", cut)
