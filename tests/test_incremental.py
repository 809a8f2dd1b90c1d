"""The incremental audit (from the last verified state) and the full audit agree on every tamper
case of the ledger tests; what the incremental run cannot see, the full one catches, and each
test says which."""

import json
import random
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sealguard.ledger import Ledger, append, append_many, audit, one_checkpoint
from sealguard.ledger import verified as verified_state
from sealguard.ledger.canonical import encode_event
from sealguard.ledger.incremental import Policy, audit_log
from sealguard.ledger.keys import create_key, load_key
from sealguard.ledger.merkle import CompactRange, leaf_hash
from sealguard.ledger.note import sign, split_history

from .ledger_helpers import lines_of, make_log, resign, write_lines

POLICY = Policy(every=1000, max_age=86400)
PREFIX, TOTAL = 30, 40  # lines verified by the first audit; lines after ten more appends


def _verified_then_grown(folder: Path, witness: Path | None = None) -> Ledger:
    """A log audited once (its state verified at 30 lines), then ten more appends by writers."""
    ledger = make_log(folder, PREFIX, witness)
    first = audit_log(ledger, 1, POLICY)
    assert first.full and first.report.intact
    assert ledger.verified.exists()
    for i in range(TOTAL - len(lines_of(ledger))):
        append(ledger, "later", {"n": i})
    again = audit_log(ledger, 1, POLICY)
    assert again.report.intact and not again.full, again.why_full  # the writers carried it
    assert again.report.lines == len(lines_of(ledger))
    return ledger


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    """Verified at 30 lines, then grown to 40 without a new audit."""
    ledger = make_log(tmp_path_factory.mktemp("grown") / "rt", PREFIX)
    assert audit_log(ledger, 1, POLICY).full
    for i in range(TOTAL - PREFIX):
        append(ledger, "later", {"n": i})
    return ledger


def _copy(ledger: Ledger, target: Path) -> Ledger:
    shutil.copytree(ledger.folder, target)
    return Ledger.in_folder(target, witness=ledger.witness)


def _reattest(ledger: Ledger) -> None:
    """What only the holder of the log key can do (or a ctime that did not move): re-sign the
    verified state over the files as they are now, so the incremental run trusts the prefix."""
    key = load_key(ledger.key_file)
    state = verified_state.load(ledger, key.public_key().public_bytes_raw())
    assert state is not None
    from dataclasses import replace

    now = (verified_state.identity(ledger.log), verified_state.identity(ledger.history))
    verified_state.save(ledger, replace(state, log=now[0], history=now[1]), key)


def _kinds(ledger: Ledger) -> tuple[set[str], set[str], bool]:
    """Problem kinds of the incremental run, of the full audit, and whether the incremental
    run had to fall back to a full audit."""
    incremental = audit_log(ledger, 1, POLICY)
    return (
        {p.kind for p in incremental.report.problems},
        {p.kind for p in audit(ledger).problems},
        incremental.full,
    )


def _flip(line: int) -> Callable[[Ledger], None]:
    def tamper(ledger: Ledger) -> None:
        lines = lines_of(ledger)
        lines[line - 1] = lines[line - 1].replace(b'"n":', b'"N":')
        write_lines(ledger, lines)

    return tamper


def _lines(change: Callable[[list[bytes]], None]) -> Callable[[Ledger], None]:
    def tamper(ledger: Ledger) -> None:
        lines = lines_of(ledger)
        change(lines)
        write_lines(ledger, lines)

    return tamper


def _history(change: Callable[[list[str]], list[str]]) -> Callable[[Ledger], None]:
    def tamper(ledger: Ledger) -> None:
        notes = change(split_history(ledger.history.read_text()))
        ledger.history.write_text("".join(n + "\n" for n in notes))

    return tamper


def _swap(notes: list[str], a: int, b: int) -> list[str]:
    notes[a], notes[b] = notes[b], notes[a]
    return notes


def _renumbered(lines: list[bytes]) -> None:
    events = [json.loads(line) for line in lines]
    del events[34]
    for seq, event in enumerate(events):
        event["seq"] = seq
    lines[:] = [encode_event(e) for e in events]


def _foreign_checkpoint(ledger: Ledger) -> None:
    intruder = create_key(ledger.folder.parent / "intruder.pem")
    tree = CompactRange()
    for line in lines_of(ledger):
        tree.push(leaf_hash(line))
    origin = json.loads(lines_of(ledger)[0])["log_key"]["origin"]
    ledger.checkpoint.write_text(sign(origin, tree.size, tree.root(), origin, intruder).note())


def _garbage(ledger: Ledger) -> None:
    with ledger.log.open("ab") as stream:
        stream.write(b"garbage\n")


# (name, tamper, where it is, caught by the incremental run even with the state re-signed)
CASES: list[tuple[str, Callable[[Ledger], None], bool]] = [
    ("a byte changed in a new line", _flip(35), True),
    ("a new line deleted", _lines(lambda ls: ls.__delitem__(34)), True),
    (
        "a line inserted among the new",
        _lines(lambda ls: ls.insert(34, b'{"seq":34,"ts":"2026-01-01T00:00:00Z","type":"x"}')),
        True,
    ),
    ("a new line duplicated", _lines(lambda ls: ls.insert(34, ls[33])), True),
    (
        "two new lines reordered",
        _lines(lambda ls: ls.__setitem__(slice(34, 36), ls[35:33:-1])),
        True,
    ),
    ("truncated among the new lines", _lines(lambda ls: ls.__delitem__(slice(35, None))), True),
    (
        "truncated into the verified prefix",
        _lines(lambda ls: ls.__delitem__(slice(20, None))),
        True,
    ),
    ("renumbered after deleting a new line", _lines(_renumbered), True),
    ("a garbage line appended", _garbage, True),
    ("the checkpoint signed by another key", _foreign_checkpoint, True),
    ("the checkpoint unreadable", lambda led: led.checkpoint.write_text("nonsense\n"), True),
    ("new history notes reordered", _history(lambda ns: _swap(ns, 33, 34)), True),
    ("the history cut back into the prefix", _history(lambda ns: ns[:20]), True),
    # inside the verified prefix: only the full audit reads those bytes again
    ("a byte changed in a verified line", _flip(5), False),
    # a verified line deleted shifts the bytes: the new lines no longer start where the state
    # says they do, and the incremental run sees that
    ("a verified line deleted", _lines(lambda ls: ls.__delitem__(4)), True),
    ("verified history notes reordered", _history(lambda ns: _swap(ns, 3, 4)), False),
]


@pytest.mark.parametrize(("name", "tamper", "seen"), CASES, ids=[c[0] for c in CASES])
def test_incremental_and_full_audits_agree_on_every_tamper(
    grown: Ledger, tmp_path: Path, name: str, tamper: Callable[[Ledger], None], seen: bool
) -> None:
    ledger = _copy(grown, tmp_path / "rt")
    tamper(ledger)
    incremental, full, fell_back = _kinds(ledger)
    assert full, f"{name}: the full audit must find it"
    assert incremental == full, name  # the files' identity moved: the incremental run is full
    assert fell_back


@pytest.mark.parametrize(("name", "tamper", "seen"), CASES, ids=[c[0] for c in CASES])
def test_with_the_state_re_signed_only_the_prefix_escapes_the_incremental_run(
    grown: Ledger, tmp_path: Path, name: str, tamper: Callable[[Ledger], None], seen: bool
) -> None:
    """Someone with the log key re-signs the verified state over the tampered files: whatever
    is new since the state is still checked in full; the verified prefix is taken on trust,
    and the next full audit (`verify --full`, `log verify`, or the policy's) finds it."""
    ledger = _copy(grown, tmp_path / "rt")
    tamper(ledger)
    _reattest(ledger)
    run = audit_log(ledger, 1, POLICY)
    full = {p.kind for p in audit(ledger).problems}
    assert full, f"{name}: the full audit must find it"
    if seen:
        assert not run.report.intact and run.full, name  # found, then confirmed by a full audit
        assert run.why_full == "the incremental audit found a problem"
        assert {p.kind for p in run.report.problems} == full
    else:
        assert run.report.intact and not run.full, name  # missed here: the full audit's job
        assert not audit_log(ledger, 1, Policy(every=0)).report.intact


def test_a_state_not_signed_by_the_log_key_is_not_used(grown: Ledger, tmp_path: Path) -> None:
    ledger = _copy(grown, tmp_path / "rt")
    _flip(5)(ledger)
    key = load_key(ledger.key_file)
    state = verified_state.load(ledger, key.public_key().public_bytes_raw())
    assert state is not None
    from dataclasses import replace

    forged = replace(
        state,
        log=verified_state.identity(ledger.log),
        history=verified_state.identity(ledger.history),
    )
    verified_state.save(ledger, forged, create_key(tmp_path / "other.pem"))
    run = audit_log(ledger, 1, POLICY)
    assert run.full and run.why_full == "no verified state"
    assert "FORK" in {p.kind for p in run.report.problems}


def test_writers_carry_the_state_through_acts_crashes_and_batches(tmp_path: Path) -> None:
    """Legitimate growth never forces a full audit, and the incremental run always reports
    what the full one does: lines, root, checkpoints, lines awaiting their checkpoint."""
    ledger = make_log(tmp_path / "rt", 3)
    assert audit_log(ledger, 1, POLICY).full
    rng = random.Random(11)
    for round_ in range(25):
        choice = rng.randrange(3)
        if choice == 0:
            append(ledger, "one", {"r": round_})
        elif choice == 1:
            append_many(
                ledger, [("many", {"r": round_, "i": i}) for i in range(rng.randrange(1, 5))]
            )
        else:
            with one_checkpoint(ledger):
                append(ledger, "act", {"r": round_})
                append(ledger, "act", {"r": round_, "second": True})
        run = audit_log(ledger, 1, POLICY)
        full = audit(ledger)
        assert run.report.intact and not run.full, (round_, run.why_full)
        assert (run.report.lines, run.report.root, run.report.checkpoints) == (
            full.lines,
            full.root,
            full.checkpoints,
        )


def test_a_full_audit_comes_every_n_audits_and_after_its_age(tmp_path: Path) -> None:
    ledger = make_log(tmp_path / "rt", 3)
    policy = Policy(every=3, max_age=3600)
    runs = [audit_log(ledger, 1, policy).full for _ in range(6)]
    assert runs == [True, False, False, True, False, False]
    later = datetime.now(UTC) + timedelta(hours=2)
    assert not audit_log(ledger, 1, Policy(every=100, max_age=3600)).full
    run = audit_log(ledger, 1, Policy(every=100, max_age=3600), now=later)
    assert run.full and "older than 1 h" in run.why_full


def test_verify_full_and_the_incremental_verify_say_which_they_ran(tmp_path: Path) -> None:
    from .cli_run import run_cli
    from .ledger_helpers import probe_project

    root = str(probe_project(tmp_path, None).root)
    assert run_cli("--project", root, "seal", may_block=False)[0] == 0
    code, out, _ = run_cli("--project", root, "verify", may_block=False)
    assert code == 0 and "audited in full (no verified state)" in out
    code, out, _ = run_cli("--project", root, "verify", may_block=False)
    assert code == 0 and "audited from its last verified state" in out
    code, out, _ = run_cli("--project", root, "verify", "--full", may_block=False)
    assert code == 0 and "audited in full (asked for)" in out


def _witnessed(tmp_path: Path) -> Ledger:
    witness = tmp_path / "witness"
    ledger = make_log(tmp_path / "rt", 10, witness)
    assert audit_log(ledger, 1, POLICY).full
    append(ledger, "later", {})
    assert not audit_log(ledger, 1, POLICY).full
    return ledger


def _rolled_back_with_the_key(ledger: Ledger) -> None:
    """The attacker holds the log key: the log and every local checkpoint re-signed at 6 lines,
    and the verified state re-signed over them; only the witness knows better."""
    resign(ledger, lines_of(ledger)[:6])
    _reattest(ledger)


def _cosignature_dropped(ledger: Ledger) -> None:
    assert ledger.witness is not None
    (record_file,) = (ledger.witness / "logs").glob("*.json")
    record = json.loads(record_file.read_text())
    record["checkpoint"] = ledger.checkpoint.read_text()  # the log's signature only
    record_file.write_text(json.dumps(record))


WITNESS_CASES: list[tuple[str, Callable[[Ledger], None]]] = [
    ("the witness folder wiped", lambda led: shutil.rmtree(led.witness or "")),
    ("the witness's cosignature dropped", _cosignature_dropped),
    ("rolled back and re-signed with the key", _rolled_back_with_the_key),
]


@pytest.mark.parametrize(("name", "tamper"), WITNESS_CASES, ids=[c[0] for c in WITNESS_CASES])
def test_the_witness_is_consulted_by_every_incremental_run(
    tmp_path: Path, name: str, tamper: Callable[[Ledger], None]
) -> None:
    ledger = _witnessed(tmp_path)
    tamper(ledger)
    run = audit_log(ledger, 1, POLICY)
    full = {p.kind for p in audit(ledger).problems}
    assert full and {p.kind for p in run.report.problems} == full, name
