"""One read of the log in ranges: each range's tree span, and its lines checked or searched."""

import hashlib
import itertools
from pathlib import Path

import pytest

from sealguard.errors import EvidenceWriteError
from sealguard.ledger import Ledger, append, append_many, lines
from sealguard.ledger import writer as writer_module
from sealguard.ledger.canonical import encode_event
from sealguard.ledger.compact import Span
from sealguard.ledger.merkle import CompactRange, leaf_hash
from sealguard.ledger.scan import check_lines, ranges, scan_log, scan_range

from .ledger_helpers import audit, lines_of, make_log

FRAGMENT = 19  # bytes of the write cut short


def _torn_log(folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Ledger, int]:
    """A log whose line 4 (index 3) is a write cut short, accounted for by the torn_tail event
    the next append writes after it; returns the byte offset of that event."""
    ledger = make_log(folder, 3)
    size = ledger.log.stat().st_size
    real_write = writer_module.os.write
    monkeypatch.setattr(writer_module.os, "write", lambda fd, data: real_write(fd, data[:FRAGMENT]))
    with pytest.raises(EvidenceWriteError):
        append(ledger, "doomed", {})
    monkeypatch.undo()
    append(ledger, "after", {})
    append(ledger, "later", {})
    return ledger, size + FRAGMENT + 1


def _root(lines_: list[bytes]) -> bytes:
    tree = CompactRange()
    for line in lines_:
        tree.push(leaf_hash(line))
    return tree.root()


def test_a_range_that_starts_on_a_torn_tail_event_reads_the_fragment_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, event = _torn_log(tmp_path / "rt", monkeypatch)
    searched = scan_range(ledger.log, event, ledger.log.stat().st_size, (), 100)
    assert searched.span.begin == 4 and searched.light.torn_tails == [4]
    checked = scan_range(ledger.log, event, ledger.log.stat().st_size, (), 0)
    assert checked.checker.torn_tails == []  # a full check needs the fragment's own range
    assert audit(ledger).torn_tails == [4]


def test_a_torn_tail_event_that_does_not_match_its_fragment_accounts_for_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, event = _torn_log(tmp_path / "rt", monkeypatch)
    data = ledger.log.read_bytes()
    lied = data.replace(b'"length":%d' % FRAGMENT, b'"length":%d' % (FRAGMENT - 1))
    assert lied != data
    ledger.log.write_bytes(lied)
    for start in (0, event):  # the fragment in the same range, and in the range before
        searched = scan_range(ledger.log, start, len(lied), (), 100)
        assert searched.light.torn_tails == []


def test_checks_that_start_after_a_fragment_wait_for_its_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full checks from line 5 on, line 4 a fragment not checked: the state is a full check's."""
    ledger, _ = _torn_log(tmp_path / "rt", monkeypatch)
    found = scan_range(ledger.log, 0, ledger.log.stat().st_size, (), 4)
    assert found.light.torn_tails == [] and found.checker.torn_tails == [4]
    assert found.checker.problems == []


def test_only_events_of_that_type_are_taken_from_the_lines_searched(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 2)
    nested = {"a": {"type": "witness_configured"}, "b": {"type": "torn_tail", "fragment": {}}}
    append(ledger, "note", nested)
    append(ledger, "witness_configured", {"witness": {"name": "w"}})
    found = scan_range(ledger.log, 0, ledger.log.stat().st_size, (), 100)
    assert [(line, event["seq"]) for line, event in found.light.witnesses] == [(4, 3)]
    assert found.light.torn_tails == []


def test_a_line_longer_than_a_read_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_log(tmp_path / "rt", 2)
    append(ledger, "note", {"text": "x" * 300})
    append(ledger, "note", {"text": "y"})
    monkeypatch.setattr(lines, "READ_SIZE", 64)
    found = scan_range(ledger.log, 0, ledger.log.stat().st_size, (2, 3), 0)
    log_lines = lines_of(ledger)
    assert found.span.root() == _root(log_lines)
    assert found.offsets == {size: sum(len(x) + 1 for x in log_lines[:size]) for size in (2, 3)}
    assert found.checker.problems == [] and found.checker.next_index == 4


@pytest.mark.parametrize("jobs", [2, 3, 7])
def test_ranges_joined_give_the_tree_and_the_offsets_of_one_read(tmp_path: Path, jobs: int) -> None:
    ledger = make_log(tmp_path / "rt", 1)
    for start in range(0, 200, 40):
        append_many(ledger, [("bulk", {"i": i}) for i in range(start, start + 40)])
    log_lines = lines_of(ledger)
    wanted = [1, 41, 100, 161, 201]
    cuts = ranges(ledger.log, jobs)
    assert cuts[0][0] == 0 and cuts[-1][1] == ledger.log.stat().st_size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cuts))
    found, tail = scan_log(ledger.log, jobs, wanted, 0)
    assert len(found) == len(cuts) and tail == b""
    whole, roots, offsets = Span.starting(0), {}, {}
    for part in found:
        roots |= {size: whole.join(span).root() for size, span in part.marks.items()}
        offsets |= part.offsets
        whole = whole.join(part.span)
    assert whole.root() == _root(log_lines)
    assert roots == {size: _root(log_lines[:size]) for size in wanted}
    assert offsets == {size: sum(len(x) + 1 for x in log_lines[:size]) for size in wanted}
    assert [c.problems for c in check_lines(ledger.log, jobs)] == [[]] * len(cuts)


def test_a_missing_log_has_no_lines(tmp_path: Path) -> None:
    assert scan_log(tmp_path / "nothing.ndjson", 2, [], 0) == ([], b"")
    assert [c.problems for c in check_lines(tmp_path / "nothing.ndjson", 2)] == [[]]


def test_a_fragment_after_the_last_newline_is_the_tail(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 2)
    with ledger.log.open("ab") as log:
        log.write(b'{"cut')
    found, tail = scan_log(ledger.log, 1, [], 0)
    assert tail == b'{"cut' and found[0].span.end == 2


@pytest.mark.parametrize(("event_type", "accounted"), [("torn_tail", [1]), ("note", [])])
def test_only_a_torn_tail_event_accounts_for_a_fragment(
    tmp_path: Path, event_type: str, accounted: list[int]
) -> None:
    fragment = b'{"cut sh'
    recorded = {
        "line": 0,
        "offset": 0,
        "length": len(fragment),
        "sha256": hashlib.sha256(fragment).hexdigest(),
    }
    event = {"fragment": recorded, "seq": 1, "ts": "t", "type": event_type}
    log = tmp_path / "log.ndjson"
    log.write_bytes(fragment + b"\n" + encode_event({**event, "x": {"type": "torn_tail"}}) + b"\n")
    found = scan_range(log, 0, log.stat().st_size, (), 2)
    assert found.light.torn_tails == accounted


def test_a_log_shorter_than_the_range_ends_the_read(tmp_path: Path) -> None:
    """A log cut back while it is read (appends wait, an attacker does not): no endless read."""
    ledger = make_log(tmp_path / "rt", 3)
    size = ledger.log.stat().st_size
    found = scan_range(ledger.log, 0, size + 4096, (), 0)
    assert found.span.end == 3 and found.tail == b"" and found.checker.problems == []
    with ledger.log.open("ab") as log:
        log.write(b'{"cut')
    found = scan_range(ledger.log, size, size + 4096, (), 0)
    assert found.span.begin == 3 and found.tail == b'{"cut'
    assert scan_range(ledger.log, size + 4096, size + 8192, (), 0).span.begin == 3


def test_a_range_that_ends_on_a_fragment_settles_it_with_the_next_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, event = _torn_log(tmp_path / "rt", monkeypatch)
    found = scan_range(ledger.log, 0, event, (), 0)
    assert found.span.end == 4 and found.tail == b""
    assert found.checker.torn_tails == [4] and found.checker.problems == []


@pytest.mark.parametrize(
    "line",
    [
        b'{"fragment":"not an object","seq":1,"ts":"t","type":"torn_tail"}',
        b'{"fragment":{"length":"8"},"seq":1,"ts":"t","type":"torn_tail"}',
        b'["not an object","type":"torn_tail"]',
        b'{"broken":"type":"torn_tail"',
    ],
)
def test_what_only_looks_like_a_torn_tail_event_accounts_for_nothing(
    tmp_path: Path, line: bytes
) -> None:
    log = tmp_path / "log.ndjson"
    log.write_bytes(b'{"cut sh\n' + line + b"\n")
    found = scan_range(log, 0, log.stat().st_size, (), 2)
    assert found.light.torn_tails == [] and found.span.end == 2
