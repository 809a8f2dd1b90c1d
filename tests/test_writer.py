"""Appends: one locked write and fsync each, crash-safe, concurrent, never retried."""

import errno
import json
import multiprocessing
import os
import random
import signal
import stat
import time
from pathlib import Path

import pytest

from sealguard.errors import EvidenceWriteError, IntegrityError
from sealguard.ledger import Ledger, append, read_events
from sealguard.ledger import writer as writer_module
from sealguard.ledger.cosignature import cosigned_at
from sealguard.ledger.note import parse, split_history
from sealguard.ledger.witness import FolderWitness

from .ledger_helpers import audit, cut_writes_to, lines_of, make_log


def test_events_are_canonical_lines_with_seq_and_ts(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 3)
    events = read_events(ledger.log)
    assert [e["seq"] for e in events] == [0, 1, 2]
    assert all(e["ts"].endswith("Z") and e["type"] == "test_event" for e in events)
    assert "log_key" in events[0] and "log_key" not in events[1]
    checkpoint = parse(ledger.checkpoint.read_text())
    assert checkpoint.size == 3
    assert audit(ledger).intact


def test_the_key_is_private_and_ignored_by_git(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 1)
    assert stat.S_IMODE(ledger.key_file.stat().st_mode) == 0o600
    assert (ledger.key_file.parent / ".gitignore").read_text().splitlines()[1] == "*"


def test_missing_key_refuses_to_append(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 2)
    ledger.key_file.unlink()
    before = ledger.log.read_bytes()
    with pytest.raises(IntegrityError, match="the log key is missing"):
        append(ledger, "x", {})
    assert ledger.log.read_bytes() == before


def test_truncated_log_is_never_appended_to(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 5)
    lines = lines_of(ledger)
    ledger.log.write_bytes(b"".join(line + b"\n" for line in lines[:3]))
    with pytest.raises(IntegrityError, match="TRUNCATION; nothing was appended"):
        append(ledger, "x", {})
    ledger.state.unlink()  # even without the cache, the checkpoint tells
    with pytest.raises(IntegrityError, match="its checkpoint covers 5: TRUNCATION"):
        append(ledger, "x", {})
    assert len(lines_of(ledger)) == 3


def test_a_lost_cache_is_rebuilt_from_the_log(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 4)
    ledger.state.unlink()
    append(ledger, "after", {})
    ledger.state.write_text("not json")
    append(ledger, "after", {})
    assert audit(ledger).intact and len(lines_of(ledger)) == 6


def test_torn_tail_is_kept_and_accounted_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_log(tmp_path / "rt", 3)
    size = ledger.log.stat().st_size
    cut_writes_to(20, monkeypatch)
    with pytest.raises(EvidenceWriteError):
        append(ledger, "doomed", {})
    monkeypatch.undo()
    fragment = ledger.log.read_bytes()[size:]
    assert len(fragment) == 20
    report = audit(ledger)
    assert report.intact and report.pending_tail == 20
    append(ledger, "next", {"after": "crash"})
    raw = ledger.log.read_bytes()
    assert raw[size : size + 21] == fragment + b"\n"  # the fragment stays, untouched
    events = read_events(ledger.log)
    torn = events[3]
    assert torn["type"] == "torn_tail" and torn["seq"] == 4
    assert torn["fragment"]["offset"] == size and torn["fragment"]["length"] == 20
    assert events[4]["type"] == "next" and events[4]["seq"] == 5
    report = audit(ledger)
    assert report.intact, report.problems
    assert report.torn_tails == [4]


def test_bytes_nobody_announced_are_never_signed(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 3)
    for forged in (b'{"seq":3,"ts":"2026-', b'{"seq":3,"ts":"x","type":"forged"}\n'):
        before = ledger.log.read_bytes()
        with ledger.log.open("ab") as stream:
            stream.write(forged)
        with pytest.raises(IntegrityError, match="not announced by a sealguard writer"):
            append(ledger, "x", {})
        assert parse(ledger.checkpoint.read_text()).size == 3
        ledger.log.write_bytes(before)


def test_short_write_stops_with_the_documented_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_log(tmp_path / "rt", 2)
    cut_writes_to(10, monkeypatch)
    with pytest.raises(
        EvidenceWriteError, match=r"short write \(10 of \d+ bytes\); stopped, not retried"
    ) as caught:
        append(ledger, "doomed", {})
    assert caught.value.exit_code == 74
    monkeypatch.undo()
    append(ledger, "later", {})  # the partial line becomes an accounted torn tail
    assert [e["type"] for e in read_events(ledger.log)][-2:] == ["torn_tail", "later"]
    assert audit(ledger).intact


def test_fsync_error_stops_and_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_log(tmp_path / "rt", 1)
    calls = []
    real_fsync = os.fsync

    def failing(fd: int) -> None:
        if not os.readlink(f"/proc/self/fd/{fd}").endswith("GOVERNANCE_LOG.ndjson"):
            return real_fsync(fd)
        calls.append(fd)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(writer_module.os, "fsync", failing)
    with pytest.raises(
        EvidenceWriteError, match=r"fsync failed \(Input/output error\); stopped, not retried"
    ):
        append(ledger, "x", {})
    assert len(calls) == 1
    assert parse(ledger.checkpoint.read_text()).size == 1  # no checkpoint vouches for it


def _appender(folder: str, count: int, worker: int) -> None:
    ledger = Ledger.in_folder(Path(folder))
    for i in range(count):
        append(ledger, "concurrent", {"worker": worker, "i": i})


def test_eight_processes_append_1600_events(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 1)
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_appender, args=(str(ledger.folder), 200, w)) for w in range(8)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert all(w.exitcode == 0 for w in workers)
    events = read_events(ledger.log)
    assert len(events) == 1601
    assert sorted((e["worker"], e["i"]) for e in events[1:]) == [
        (w, i) for w in range(8) for i in range(200)
    ]
    report = audit(ledger)
    assert report.intact and report.lines == 1601 and report.latest == 1601


def _acknowledging_writer(folder: str, ack: str, start: int) -> None:
    ledger = Ledger.in_folder(Path(folder))
    fd = os.open(ack, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for i in range(start, start + 10_000):
        event = append(ledger, "acked", {"i": i})
        os.write(fd, f"{event['seq']} {i}\n".encode())  # only after append returned


def _wait_for_growth(path: Path, size: int) -> None:
    """Until `path` grows past `size` (a safety bound, not a timing: it fails only if stuck)."""
    deadline = time.monotonic() + 120
    while (path.stat().st_size if path.exists() else 0) <= size:
        assert time.monotonic() < deadline, f"{path} did not grow"
        time.sleep(0.001)


def test_sigkill_at_random_moments_loses_no_acknowledged_event(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 1)
    ack = tmp_path / "acks"
    rng = random.Random(20261126)
    context = multiprocessing.get_context("fork")
    for round_number in range(200):
        worker = context.Process(
            target=_acknowledging_writer, args=(str(ledger.folder), str(ack), round_number * 10_000)
        )
        before = ack.stat().st_size if ack.exists() else 0
        worker.start()
        if round_number % 4 == 0:  # some kills after an acknowledged append, however slow
            _wait_for_growth(ack, before)
        time.sleep(rng.uniform(0.0, 0.02))
        os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]
        worker.join()
        assert worker.exitcode == -signal.SIGKILL
    append(ledger, "after_the_storm", {})
    report = audit(ledger)
    assert report.intact, report.problems[:3]
    events = read_events(ledger.log)
    by_seq = {e["seq"]: e for e in events}
    acknowledged = [tuple(map(int, line.split())) for line in ack.read_text().splitlines()]
    assert len(acknowledged) >= 50
    for seq, i in acknowledged:
        assert by_seq[seq]["type"] == "acked" and by_seq[seq]["i"] == i


def test_the_witness_cosigns_every_checkpoint(tmp_path: Path) -> None:
    witness = FolderWitness(tmp_path / "witness")
    ledger = make_log(tmp_path / "rt", 3, witness=witness.folder)
    identity = witness.identity()
    assert identity is not None  # made in the fresh folder by the first append
    first = read_events(ledger.log)[0]  # the log names its witness before anything else
    assert first["type"] == "witness_configured"
    assert first["witness"]["verifier_key"] == identity.verifier_key
    local = parse(ledger.checkpoint.read_text())
    record = witness.record(local.origin)
    assert record is not None and record.project == str(ledger.folder)
    assert record.checkpoint is not None and record.checkpoint.text == local.text
    assert cosigned_at(record.checkpoint, identity.name, identity.public) is not None
    assert record.accepted == 3 and record.size == 4


def test_a_lagging_witness_is_caught_up_with_a_proof_read_from_the_log(tmp_path: Path) -> None:
    witness = FolderWitness(tmp_path / "witness")
    ledger = make_log(tmp_path / "rt", 2, witness=witness.folder)
    make_log(ledger.folder, 5)  # appends the witness never saw (configured elsewhere meanwhile)
    append(ledger, "back", {})
    record = witness.record(parse(ledger.checkpoint.read_text()).origin)
    assert record is not None and record.size == 9 and witness.refusals(record.origin) == []
    assert audit(ledger).intact


def test_an_older_checkpoint_file_does_not_stop_appends(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 5)
    ledger.checkpoint.write_text(split_history(ledger.history.read_text())[1])
    assert [p.kind for p in audit(ledger).problems] == ["ROLLBACK"]
    event = append(ledger, "incident", {})  # journaled, where it used to refuse
    assert event["seq"] == 5 and audit(ledger).intact


def test_a_crash_between_history_and_checkpoint_is_no_rollback(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 5)
    previous = split_history(ledger.history.read_text())[-2]
    ledger.checkpoint.write_text(previous)  # what a crash right after the history append leaves
    assert audit(ledger).intact
    ledger.pending.unlink()  # without the writer's signed intent, it is a rollback
    assert [p.kind for p in audit(ledger).problems] == ["ROLLBACK"]


def test_unreachable_witness_is_an_error_after_the_event_is_written(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    ledger = Ledger.in_folder(tmp_path / "rt", witness=blocker / "witness")
    with pytest.raises(EvidenceWriteError, match="could not be updated"):
        append(ledger, "x", {})
    assert len(read_events(ledger.log)) == 1
    assert json.loads(lines_of(ledger)[0])["type"] == "x"


def test_failing_to_record_the_intent_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_log(tmp_path / "rt", 1)
    before = ledger.log.read_bytes()

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer_module.pending, "write_atomic", no_space)
    with pytest.raises(EvidenceWriteError, match="cannot record the write about to happen"):
        append(ledger, "x", {})
    assert ledger.log.read_bytes() == before


def _witnessed_appender(folder: str, witness: str, count: int, worker: int) -> None:
    ledger = Ledger.in_folder(Path(folder), witness=Path(witness))
    for i in range(count):
        append(ledger, "concurrent", {"worker": worker, "i": i})


def test_concurrent_appends_keep_the_witness_in_step(tmp_path: Path) -> None:
    witness = FolderWitness(tmp_path / "witness")
    ledger = make_log(tmp_path / "rt", 1, witness=witness.folder)
    context = multiprocessing.get_context("fork")
    args = (str(ledger.folder), str(witness.folder), 25)
    workers = [context.Process(target=_witnessed_appender, args=(*args, w)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert all(w.exitcode == 0 for w in workers)
    record = witness.record(parse(ledger.checkpoint.read_text()).origin)
    assert record is not None and record.size == 102 and record.accepted == 101
    assert witness.refusals(record.origin) == []
    assert audit(ledger).intact


def test_something_in_place_of_the_cache_keeps_no_checkpoint_from_the_witness(
    tmp_path: Path,
) -> None:
    witness = FolderWitness(tmp_path / "witness")
    ledger = make_log(tmp_path / "rt", 2, witness=witness.folder)
    ledger.state.unlink()
    ledger.state.mkdir()  # the cache cannot be replaced any more
    append(ledger, "drift", {})
    record = witness.record(parse(ledger.checkpoint.read_text()).origin)
    assert record is not None and record.size == 4


def _witnessed_writer(folder: str, witness: str, start: int) -> None:
    ledger = Ledger.in_folder(Path(folder), witness=Path(witness))
    for i in range(start, start + 10_000):
        append(ledger, "acked", {"i": i})


def test_sigkill_at_random_moments_leaves_the_witness_consistent(tmp_path: Path) -> None:
    """A kill between the local checkpoint and the witness leaves it behind, never ahead or
    refusing: the next append catches it up with a proof read back from the log."""
    witness = FolderWitness(tmp_path / "witness")
    ledger = make_log(tmp_path / "rt", 1, witness=witness.folder)
    rng = random.Random(20261127)
    context = multiprocessing.get_context("fork")
    for round_number in range(60):
        worker = context.Process(
            target=_witnessed_writer,
            args=(str(ledger.folder), str(witness.folder), round_number * 10_000),
        )
        worker.start()
        time.sleep(rng.uniform(0.0, 0.03))
        os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]
        worker.join()
        assert audit(ledger).intact, audit(ledger).problems[:3]
    append(ledger, "after_the_storm", {})
    report = audit(ledger)
    assert report.intact, report.problems[:3]
    record = witness.record(parse(ledger.checkpoint.read_text()).origin)
    assert record is not None and record.size == report.lines
    assert witness.refusals(record.origin) == []


def test_no_new_log_is_started_over_a_lost_one(tmp_path: Path) -> None:
    """Found in review: the writer created an empty log before refusing, so `verify` then saw
    an empty log instead of a missing one."""
    ledger = make_log(tmp_path / "rt", 3)
    ledger.log.unlink()
    with pytest.raises(IntegrityError, match="the log is gone but its checkpoint remains"):
        append(ledger, "x", {})
    assert not ledger.log.exists()
