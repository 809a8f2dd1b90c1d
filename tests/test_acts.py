"""One checkpoint per act: an observation, a decision or a delivery round that appends several
times publishes one signed checkpoint, after its last line; every line stays provable."""

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.errors import IntegrityError
from sealguard.ledger import Ledger, append, audit, one_checkpoint, read_events
from sealguard.ledger.merkle import CompactRange, inclusion_proof, leaf_hash, root_from_inclusion
from sealguard.ledger.note import parse, split_history
from sealguard.ledger.witness import FolderWitness
from sealguard.observe.observation import observe
from sealguard.project import Project
from sealguard.seal.sealing import seal

from .ledger_helpers import lines_of, make_log, probe_project


def _notes(ledger: Ledger) -> list[int]:
    """The sizes of the checkpoints in the history, in order."""
    return [parse(n).size for n in split_history(ledger.history.read_text())]


def _sealed(tmp_path: Path, witness: Path | None = None) -> Project:
    project = probe_project(tmp_path, witness)
    seal(project, load_config(project.config_file), jobs=1)
    return project


def test_an_observation_publishes_one_checkpoint_after_its_last_line(tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    project = _sealed(tmp_path, witness)
    config = load_config(project.config_file)
    ledger = project.ledger(config)
    before = _notes(ledger)
    lines_before = len(lines_of(ledger))
    observation = observe(project, config, jobs=1)  # the first: event file and snapshot
    assert observation.event.classification == "STABLE"
    lines = lines_of(ledger)
    assert len(lines) - lines_before >= 5  # several appends: announcements, files, the event
    assert _notes(ledger) == [*before, len(lines)]
    assert parse(ledger.checkpoint.read_text()).size == len(lines)
    record = FolderWitness(witness).record(parse(ledger.checkpoint.read_text()).origin)
    assert record is not None and record.size == len(lines)  # the witness holds the act's
    report = audit(ledger)
    assert report.intact and report.unpublished == 0
    # every line of the act is still provable against the one checkpoint
    leaves = [leaf_hash(line) for line in lines]
    root = parse(ledger.checkpoint.read_text()).root
    for index in range(lines_before, len(lines)):
        proof = inclusion_proof(leaves, index)
        assert root_from_inclusion(index, len(leaves), leaves[index], proof) == root


def test_a_drift_with_its_export_is_still_one_checkpoint(tmp_path: Path) -> None:
    project = _sealed(tmp_path)
    config = load_config(project.config_file)
    ledger = project.ledger(config)
    (project.root / "data" / "value.txt").write_text("2\n")  # runtime data: the output changes
    before = _notes(ledger)
    observation = observe(project, config, jobs=1)
    assert observation.event.classification == "PRODUCT_DRIFT"
    assert observation.event.export is not None  # announced, written, recorded: 3 more appends
    assert _notes(ledger) == [*before, len(lines_of(ledger))]
    assert audit(ledger).intact


def test_a_refused_observation_is_one_checkpoint_too(tmp_path: Path) -> None:
    project = _sealed(tmp_path)
    config = load_config(project.config_file)
    ledger = project.ledger(config)
    (project.root / "data" / "value.txt").write_text("2\n")
    observe(project, config, jobs=1)  # FROZEN
    before = _notes(ledger)
    with pytest.raises(Exception, match="FROZEN"):
        observe(project, config, jobs=1)
    assert read_events(ledger.log)[-1]["type"] == "observation_refused"
    assert _notes(ledger) == [*before, len(lines_of(ledger))]


def test_an_act_that_fails_still_checkpoints_what_it_wrote(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 2)
    with pytest.raises(RuntimeError, match="probe runner vanished"), one_checkpoint(ledger):
        append(ledger, "a", {})
        append(ledger, "b", {})
        raise RuntimeError("probe runner vanished")
    assert _notes(ledger) == [1, 2, 4]
    assert audit(ledger).intact


def test_nested_acts_belong_to_the_outermost(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 1)
    with one_checkpoint(ledger):
        append(ledger, "a", {})
        with one_checkpoint(ledger):
            append(ledger, "b", {})
        assert _notes(ledger) == [1]  # the inner act's end publishes nothing
        append(ledger, "c", {})
    assert _notes(ledger) == [1, 4]


def test_an_append_to_another_ledger_inside_an_act_is_checkpointed_at_once(
    tmp_path: Path,
) -> None:
    mine, other = make_log(tmp_path / "a", 1), make_log(tmp_path / "b", 1)
    with one_checkpoint(mine):
        append(other, "x", {})
        assert _notes(other) == [1, 2]
        append(mine, "y", {})
        assert _notes(mine) == [1]
    assert _notes(mine) == [1, 2]


def test_another_writer_inside_the_act_publishes_over_its_lines(tmp_path: Path) -> None:
    """A delivery run by another process between two appends of an act: its checkpoint covers
    the act's first lines (they were announced), and the act's checkpoint covers the rest."""
    ledger = make_log(tmp_path / "rt", 1)
    with one_checkpoint(ledger):
        append(ledger, "mine", {})
        subprocess.run(
            [sys.executable, "-c", _APPEND.format(folder=str(ledger.folder), kind="theirs")],
            check=True,
        )
        assert _notes(ledger) == [1, 3]
        append(ledger, "mine again", {})
    assert _notes(ledger) == [1, 3, 4]
    assert audit(ledger).intact


_APPEND = """
from pathlib import Path
from sealguard.ledger import Ledger, append
append(Ledger.in_folder(Path({folder!r})), {kind!r}, {{}})
"""

_KILLED_MID_ACT = """
import sys, time
from pathlib import Path
from sealguard.ledger import Ledger, append, one_checkpoint
ledger = Ledger.in_folder(Path({folder!r}))
with one_checkpoint(ledger):
    append(ledger, "first of the act", {{}})
    append(ledger, "second of the act", {{}})
    print("written", flush=True)
    time.sleep(60)
"""


def test_kill_9_inside_an_act_leaves_announced_lines_the_next_writer_publishes(
    tmp_path: Path,
) -> None:
    ledger = make_log(tmp_path / "rt", 1)
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_MID_ACT.format(folder=str(ledger.folder))],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stdout.readline() == b"written\n"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert _notes(ledger) == [1]  # killed before its checkpoint
    report = audit(ledger)
    assert report.intact and report.lines == 3 and report.unpublished == 2
    append(ledger, "after the crash", {})  # the dead writer's lock went with it
    assert _notes(ledger) == [1, 4]
    assert audit(ledger).intact
    assert [e["type"] for e in read_events(ledger.log)][1:] == [
        "first of the act",
        "second of the act",
        "after the crash",
    ]


def test_the_witness_holds_the_acts_one_checkpoint(tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    ledger = make_log(tmp_path / "rt", 1, witness)
    held = FolderWitness(witness).record(parse(ledger.checkpoint.read_text()).origin)
    assert held is not None
    with one_checkpoint(ledger):
        append(ledger, "a", {})
        append(ledger, "b", {})
    checkpoint = parse(ledger.checkpoint.read_text())
    record = FolderWitness(witness).record(checkpoint.origin)
    assert record is not None
    assert (record.size, record.root) == (len(lines_of(ledger)), checkpoint.root)
    assert record.size == held.size + 2  # proved consistent with what it held before


def test_inside_an_act_the_writer_reads_on_from_its_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the cache past the last checkpoint was thrown away, and every append of an act
    read the whole log again (3 s per observation at 100,000 past ones)."""
    from sealguard.ledger import writer

    ledger = make_log(tmp_path / "rt", 5)
    starts: list[int] = []
    real = writer._lines
    monkeypatch.setattr(
        writer, "_lines", lambda fd, start, tail: starts.append(start) or real(fd, start, tail)
    )
    with one_checkpoint(ledger):
        append(ledger, "a", {})
        append(ledger, "b", {})
    assert starts and 0 not in starts  # never from the first line again
    assert audit(ledger).intact and _notes(ledger)[-1] == 7


def test_a_cache_edited_to_hide_unannounced_bytes_is_not_believed(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 3)
    with pytest.raises(IntegrityError, match="not announced"), one_checkpoint(ledger):
        append(ledger, "mine", {})
        forged = b'{"seq":4,"ts":"2026-01-01T00:00:00Z","type":"runtime_event"}'
        with ledger.log.open("ab") as stream:
            stream.write(forged + b"\n")
        cache = json.loads(ledger.state.read_text())
        tree = CompactRange(cache["size"], [base64.b64decode(h) for h in cache["range"]])
        tree.push(leaf_hash(forged))
        end = ledger.log.stat().st_size
        cache.update(
            size=tree.size,
            bytes=end,
            range=[base64.b64encode(h).decode() for h in tree.hashes],
            published=[cache["published"][0], end],  # "nothing after the checkpoint to check"
        )
        ledger.state.write_text(json.dumps(cache))
        append(ledger, "mine again", {})
    assert _notes(ledger) == [1, 2, 3]  # nothing signed over the forged line
