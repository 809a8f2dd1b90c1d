"""log verify: any change to the log is found against its checkpoints (INV-D-03)."""

import json
import random
import shutil
from pathlib import Path

import pytest

from sealguard.ledger import Ledger, auditor
from sealguard.ledger.canonical import encode_event
from sealguard.ledger.keys import create_key, load_key, origin_for, public_bytes
from sealguard.ledger.merkle import CompactRange, leaf_hash
from sealguard.ledger.note import sign, split_history

from .ledger_helpers import audit, lines_of, make_log, resign, write_lines


@pytest.fixture(scope="module")
def fifty(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    return make_log(tmp_path_factory.mktemp("fifty") / "rt", 50)


def _copy(ledger: Ledger, target: Path) -> Ledger:
    shutil.copytree(ledger.folder, target)
    return Ledger.in_folder(target)


def test_an_untouched_log_is_intact(fifty: Ledger) -> None:
    report = audit(fifty)
    assert report.intact and report.lines == 50 and report.latest == 50
    assert report.checkpoints == 50


def _byte_changes(original: bytes, stride: int) -> list[tuple[int, int]]:
    rng = random.Random(50)
    flips = [
        (offset, flip) for offset in range(len(original)) for flip in (1, rng.randrange(1, 256))
    ]
    return flips[::stride]


def test_every_single_byte_change_at_every_offset_is_detected(
    fifty: Ledger, tmp_path: Path
) -> None:
    """The full audit, at every byte (the fast one, below, on a sample by default)."""
    ledger = _copy(fifty, tmp_path / "rt")
    original = fifty.log.read_bytes()
    for offset, flip in _byte_changes(original, 1):
        changed = bytearray(original)
        changed[offset] ^= flip
        ledger.log.write_bytes(bytes(changed))
        report = auditor.audit(ledger)
        assert not report.intact, f"byte {offset} ^ {flip:#x} went unnoticed"
    ledger.log.write_bytes(original)
    assert audit(ledger).intact


@pytest.mark.parametrize("stride", [11, pytest.param(1, marks=pytest.mark.slow)])
def test_the_fast_audit_reports_every_byte_change_as_the_full_one_does(
    fifty: Ledger, tmp_path: Path, stride: int
) -> None:
    """`log verify` without --full gives the full report, word for word, on each change."""
    ledger = _copy(fifty, tmp_path / "rt")
    original = fifty.log.read_bytes()
    for offset, flip in _byte_changes(original, stride):
        changed = bytearray(original)
        changed[offset] ^= flip
        ledger.log.write_bytes(bytes(changed))
        assert not audit(ledger).intact, f"byte {offset} ^ {flip:#x} went unnoticed"


def test_the_first_bad_line_is_named(fifty: Ledger, tmp_path: Path) -> None:
    ledger = _copy(fifty, tmp_path / "rt")
    lines = lines_of(ledger)
    lines[16] = lines[16].replace(b"event number 16", b"event number 61")
    write_lines(ledger, lines)
    report = audit(ledger)
    first = report.first_problem()
    assert first is not None and first.kind == "FORK" and first.line == 17
    assert "line 17 altered" in first.message


@pytest.mark.parametrize(
    ("operation", "kind", "line"),
    [
        ("delete", "LINE", 11),
        ("insert", "FORK", 11),  # the forged line carries the right seq; its root gives it away
        ("duplicate", "LINE", 11),
        ("reorder", "LINE", 11),
    ],
)
def test_line_operations_are_detected(
    fifty: Ledger, tmp_path: Path, operation: str, kind: str, line: int
) -> None:
    ledger = _copy(fifty, tmp_path / "rt")
    lines = lines_of(ledger)
    if operation == "delete":
        del lines[10]
    elif operation == "insert":
        lines.insert(10, b'{"seq":10,"ts":"2026-01-01T00:00:00Z","type":"forged"}')
    elif operation == "duplicate":
        lines.insert(10, lines[9])
    else:
        lines[10], lines[11] = lines[11], lines[10]
    write_lines(ledger, lines)
    report = audit(ledger)
    assert not report.intact
    first = report.first_problem()
    assert first is not None and (first.kind, first.line) == (kind, line)
    assert {p.kind for p in report.problems} & {"FORK", "TRUNCATION"}


def test_truncation_at_every_line_boundary(fifty: Ledger, tmp_path: Path) -> None:
    ledger = _copy(fifty, tmp_path / "rt")
    lines = lines_of(ledger)
    for keep in range(50):
        write_lines(ledger, lines[:keep])
        report = audit(ledger)
        kinds = {p.kind for p in report.problems}
        assert "TRUNCATION" in kinds, keep
        assert any(
            f"covers 50 lines but the log holds {keep}" in p.message for p in report.problems
        )


def test_a_renumbered_rewrite_is_a_fork(fifty: Ledger, tmp_path: Path) -> None:
    """An attacker deletes line 5 and renumbers the rest: every line looks fine, the roots do not."""
    import json

    from sealguard.ledger.canonical import encode_event

    ledger = _copy(fifty, tmp_path / "rt")
    events = [json.loads(line) for line in lines_of(ledger)]
    del events[5]
    for seq, event in enumerate(events):
        event["seq"] = seq
    write_lines(ledger, [encode_event(e) for e in events])
    report = audit(ledger)
    assert {p.kind for p in report.problems} >= {"FORK", "TRUNCATION"}
    assert report.first_problem().line == 6  # type: ignore[union-attr]


def test_a_checkpoint_signed_by_another_key(fifty: Ledger, tmp_path: Path) -> None:
    ledger = _copy(fifty, tmp_path / "rt")
    intruder = create_key(tmp_path / "other.pem")
    tree = CompactRange()
    for line in lines_of(ledger):
        tree.push(leaf_hash(line))
    origin = audit(ledger) and __import__("json").loads(lines_of(ledger)[0])["log_key"]["origin"]
    forged = sign(origin, 50, tree.root(), origin, intruder)
    ledger.checkpoint.write_text(forged.note())
    report = audit(ledger)
    assert [p.kind for p in report.problems] == ["SIGNATURE"]


def test_witness_catches_a_consistent_rollback_by_someone_with_the_key(tmp_path: Path) -> None:
    """With the key, an attacker can rewrite log and local checkpoints; the witness still knows."""
    witness = tmp_path / "witness"
    ledger = make_log(tmp_path / "rt", 10, witness=witness)
    lines = lines_of(ledger)
    # roll the log back to 6 lines and re-sign local checkpoints with the stolen key
    write_lines(ledger, lines[:6])
    tree = CompactRange()
    for line in lines[:6]:
        tree.push(leaf_hash(line))
    key = load_key(ledger.key_file)
    origin = origin_for(public_bytes(key))
    forged = sign(origin, 6, tree.root(), origin, key).note()
    ledger.checkpoint.write_text(forged)
    ledger.history.write_text(forged + "\n")
    shadow = Ledger.in_folder(ledger.folder, ledger.key_file)  # no witness
    report = audit(Ledger.in_folder(ledger.folder, witness=witness))
    assert not report.intact
    assert any(p.kind == "TRUNCATION" and "cut back" in p.message for p in report.problems)
    # unconfigured, the witness is not consulted, but the log's first line still names it
    assert [p.kind for p in audit(shadow).problems] == ["WITNESS"]
    assert "none is configured" in audit(shadow).problems[0].message


def test_unaccounted_garbage_line(fifty: Ledger, tmp_path: Path) -> None:
    ledger = _copy(fifty, tmp_path / "rt")
    with ledger.log.open("ab") as stream:
        stream.write(b"garbage\n")
    report = audit(ledger)
    assert report.first_problem().message.startswith("line 51: not a JSON event")  # type: ignore[union-attr]


def test_unreadable_checkpoint_is_reported(fifty: Ledger, tmp_path: Path) -> None:
    ledger = _copy(fifty, tmp_path / "rt")
    ledger.checkpoint.write_text("nonsense\n")
    report = audit(ledger)
    assert [p.kind for p in report.problems] == ["CHECKPOINT"]
    assert "unreadable checkpoint" in report.problems[0].message


def test_a_history_that_goes_backwards_is_a_rollback(fifty: Ledger, tmp_path: Path) -> None:
    ledger = _copy(fifty, tmp_path / "rt")
    notes = ledger.history.read_text().split("\n\n\u2014")
    assert len(notes) > 3
    text = ledger.history.read_text()
    from sealguard.ledger.note import split_history

    parts = split_history(text)
    parts[3], parts[4] = parts[4], parts[3]
    ledger.history.write_text("".join(p + "\n" for p in parts))
    report = audit(ledger)
    assert [p.kind for p in report.problems] == ["ROLLBACK"]


@pytest.mark.parametrize("jobs", [2, 3, 5])
def test_parallel_checks_find_what_the_serial_check_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    from sealguard.ledger import append_many
    from sealguard.ledger import auditor as audit_module

    ledger = make_log(tmp_path / "rt", 1)
    for start in range(0, 300, 30):
        append_many(ledger, [("bulk", {"i": i}) for i in range(start, start + 30)])
    lines = lines_of(ledger)
    lines[77] = lines[77].replace(b'"bulk"', b'"BULK"')
    lines[200] = b"a torn fragment nobody accounted for"
    write_lines(ledger, lines)
    serial = audit(ledger, 1)
    monkeypatch.setattr(audit_module, "PARALLEL_FROM", 0)
    parallel = audit(ledger, jobs)
    assert parallel.problems == serial.problems
    assert (parallel.lines, parallel.root, parallel.length) == (
        serial.lines,
        serial.root,
        serial.length,
    )
    assert [p.line for p in serial.problems if p.kind == "LINE"] == [201]
    assert {p.kind for p in serial.problems} == {"LINE", "FORK"}


@pytest.mark.parametrize("jobs", [2, 3, 5, 8])
def test_parallel_fast_and_full_audits_agree_on_an_intact_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """Witness announcements and torn writes under the checkpoints, found in every worker's
    range by the fast audit as the full one finds them (the helper holds the two reports equal),
    and the announced leftovers of a crash after the last checkpoint checked in full."""
    from sealguard.errors import EvidenceWriteError
    from sealguard.ledger import append, append_many
    from sealguard.ledger import writer as writer_module

    ledger = make_log(tmp_path / "rt", 1, witness=tmp_path / "witness")
    for start in range(0, 120, 30):
        append_many(ledger, [("bulk", {"i": i}) for i in range(start, start + 30)])
    real_write = writer_module.os.write
    monkeypatch.setattr(writer_module.os, "write", lambda fd, data: real_write(fd, data[:25]))
    with pytest.raises(EvidenceWriteError):
        append(ledger, "doomed", {})
    monkeypatch.undo()
    for start in range(120, 300, 30):
        append_many(ledger, [("bulk", {"i": i}) for i in range(start, start + 30)])
    monkeypatch.setattr(writer_module, "_publish", lambda *_: None)  # a crash before publishing
    append_many(ledger, [("bulk", {"i": i}) for i in range(300, 305)])
    monkeypatch.setattr(auditor, "PARALLEL_FROM", 0)
    report = audit(ledger, jobs)
    assert report.intact, report.problems
    assert report.torn_tails == [123] and report.unpublished == 5
    assert report.lines == len(lines_of(ledger)) == 2 + 300 + 2 + 5


def test_a_history_cut_back_behind_its_checkpoint_is_a_rollback(
    fifty: Ledger, tmp_path: Path
) -> None:
    ledger = _copy(fifty, tmp_path / "rt")
    notes = split_history(ledger.history.read_text())
    ledger.history.write_text("".join(n + "\n" for n in notes[:40]))
    report = audit(ledger)
    assert [p.kind for p in report.problems] == ["ROLLBACK"]
    assert "the history was cut back" in report.problems[0].message


def test_a_log_naming_a_witness_that_is_not_there(tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    ledger = make_log(tmp_path / "rt", 3, witness=witness)
    shutil.rmtree(witness)  # an unmounted disk, or a folder wiped
    report = audit(ledger)
    assert [p.kind for p in report.problems] == ["WITNESS"]
    assert f"{witness} holds no witness" in report.problems[0].message
    witness.mkdir()
    (witness / "witness.vkey").write_text("not a key\n")
    report = audit(ledger)
    assert [p.kind for p in report.problems] == ["WITNESS"]
    assert "the witness cannot be read" in report.problems[0].message


def test_a_witness_record_that_the_witness_did_not_cosign(tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    ledger = make_log(tmp_path / "rt", 3, witness=witness)
    (record_file,) = (witness / "logs").glob("*.json")
    record = json.loads(record_file.read_text())
    record["checkpoint"] = ledger.checkpoint.read_text()  # the log's signature only
    record_file.write_text(json.dumps(record))
    report = audit(ledger)
    assert [p.kind for p in report.problems] == ["WITNESS"]
    assert "is not signed by the log key and cosigned by witness" in report.problems[0].message


def _resigned_with(ledger: Ledger, tamper: str) -> int:
    """What only the holder of the log key can do: put a line that sealguard's writer would never
    write into the log, and sign every checkpoint again over it. Returns the 1-based line."""
    lines = lines_of(ledger)
    event = json.loads(lines[20])
    if tamper == "not canonical":
        lines[20] = json.dumps(event).encode()  # spaces after the separators
    elif tamper == "wrong seq":
        lines[20] = encode_event({**event, "seq": 19})
    elif tamper == "no type":
        lines[20] = encode_event({k: v for k, v in event.items() if k != "type"})
    else:  # a fragment no torn_tail event accounts for
        lines[20] = lines[20][:40]
    resign(ledger, lines)
    return 21


@pytest.mark.parametrize("tamper", ["not canonical", "wrong seq", "no type", "fragment"])
def test_a_bad_line_signed_with_the_log_key_is_missed_by_the_fast_audit_caught_by_full(
    fifty: Ledger, tmp_path: Path, tamper: str
) -> None:
    """The one thing the fast audit does not prove: a line the log key itself signed is not read
    again, so a bad line re-signed by whoever holds the key passes it; `--full` reads every line
    and names it (README, "What each mode proves")."""
    ledger = _copy(fifty, tmp_path / "rt")
    line = _resigned_with(ledger, tamper)
    assert auditor.audit(ledger, full=False).intact  # missed, as documented
    full = auditor.audit(ledger, full=True)
    assert [(p.kind, p.line) for p in full.problems] == [("LINE", line)]
