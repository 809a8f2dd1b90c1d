"""The runtime area checked from its index (INV-D-04, 07) finds what the full check finds, on
every tamper case, except the one the README names: an event file of a past day rewritten in
place, which the next full check finds."""

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.ledger import signed
from sealguard.ledger.keys import create_key
from sealguard.observe.observation import observe
from sealguard.project import Project
from sealguard.runtime_index import DOMAIN
from sealguard.seal.sealing import seal
from sealguard.seal.verify import VerifyReport, verify

from .ledger_helpers import probe_project

DAYS_AGO = 2


def _verify(project: Project, full: bool) -> VerifyReport:
    return verify(project, load_config(project.config_file), 1, full=full)


def _found(report: VerifyReport) -> set[tuple[str, str, str]]:
    return {(d.invariant, d.change, d.path) for d in report.differences}


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Sealed, observed on a past day and today, then verified once (the index is built)."""
    project = probe_project(tmp_path_factory.mktemp("observed"), None)
    config = load_config(project.config_file)
    seal(project, config, jobs=1)
    past = datetime.now(UTC) - timedelta(days=DAYS_AGO)
    for minutes in (0, 5):
        observe(project, config, 1, now=past + timedelta(minutes=minutes))
    observe(project, config, 1)
    first = _verify(project, full=False)
    assert first.intact
    again = _verify(project, full=False)
    assert again.intact and not again.log_full  # from the index from now on
    return project


def _copy(project: Project, target: Path) -> Project:
    """A copy has new inodes: its first check is full, and keeps an index of its own."""
    shutil.copytree(project.root, target, symlinks=True)
    copy = Project(target)
    first = _verify(copy, full=False)
    assert first.intact and first.log_full
    assert not _verify(copy, full=False).log_full
    return copy


def _past_event(project: Project) -> Path:
    day = (datetime.now(UTC) - timedelta(days=DAYS_AGO)).strftime("%Y%m%d")
    return sorted((project.runtime / "events" / day).glob("RTE_*.json"))[0]


def _snapshot_file(project: Project) -> Path:
    return sorted(project.runtime.glob("snapshots/SNP_*/value/stdout.txt"))[0]


def _append(path: Path) -> None:
    with path.open("ab") as stream:
        stream.write(b"edited\n")


CASES: list[tuple[str, Callable[[Project], None], bool]] = [
    ("a snapshot file rewritten in place", lambda p: _append(_snapshot_file(p)), True),
    ("a snapshot file removed", lambda p: _snapshot_file(p).unlink(), True),
    (
        "a file planted in a snapshot",
        lambda p: (_snapshot_file(p).parent / "planted.txt").write_text("x"),
        True,
    ),
    (
        "a folder planted in the runtime area",
        lambda p: (
            (p.runtime / "planted" / "deep").mkdir(parents=True)
            or (p.runtime / "planted" / "deep" / "x.json").write_text("{}")
        ),
        True,
    ),
    ("a past day's event file removed", lambda p: _past_event(p).unlink(), True),
    (
        "a file planted among a past day's events",
        lambda p: (_past_event(p).parent / "RTE_forged.json").write_text("{}"),
        True,
    ),
    (
        "a past day's event file replaced by a rename",
        lambda p: (
            _past_event(p).with_name("x.tmp").write_bytes(b"{}"),
            _past_event(p).with_name("x.tmp").replace(_past_event(p)),
        ),
        True,
    ),
    ("a whole day's folder removed", lambda p: shutil.rmtree(_past_event(p).parent), True),
    # the one the incremental check passes by: its folder's entries did not change
    ("a past day's event file rewritten in place", lambda p: _append(_past_event(p)), False),
]


@pytest.mark.parametrize(("name", "tamper", "seen"), CASES, ids=[c[0] for c in CASES])
def test_the_index_and_the_full_check_agree(
    observed: Project, tmp_path: Path, name: str, tamper: Callable[[Project], None], seen: bool
) -> None:
    project = _copy(observed, tmp_path / "copy")
    tamper(project)
    incremental = _verify(project, full=False)
    assert not incremental.log_full  # the log did not move: the area is checked from the index
    full = _verify(project, full=True)
    assert _found(full), f"{name}: the full check must find it"
    if seen:
        assert _found(incremental) == _found(full), name
    else:
        assert incremental.intact, f"{name}: the README says the incremental check misses it"
        assert not _verify(project, full=False).intact  # the full check dropped the index


def test_a_touched_file_with_its_content_is_not_a_difference(
    observed: Project, tmp_path: Path
) -> None:
    project = _copy(observed, tmp_path / "copy")
    snapshot = _snapshot_file(project)
    snapshot.write_bytes(snapshot.read_bytes())  # rewritten with the same bytes
    assert _verify(project, full=False).intact
    assert _verify(project, full=False).intact


def test_an_index_not_signed_by_the_log_key_is_not_used(observed: Project, tmp_path: Path) -> None:
    project = _copy(observed, tmp_path / "copy")
    _append(_past_event(project))  # missed by the index
    main = project.runtime / ".ledger-index" / "area"
    body = json.loads(main.read_bytes().split(b"\n")[0])
    forged = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    signed.write(main, forged, create_key(tmp_path / "other.pem"), DOMAIN)
    report = _verify(project, full=False)
    assert ("INV-D-04", "modified") in {(d.invariant, d.change) for d in report.differences}


def test_a_damaged_folder_entry_sends_the_check_back_to_full(
    observed: Project, tmp_path: Path
) -> None:
    project = _copy(observed, tmp_path / "copy")
    today = project.runtime / "events" / datetime.now(UTC).strftime("%Y%m%d")
    (today / "planted.json").write_text("{}")  # the day's folder moves: its entry is read
    for entry in (project.runtime / ".ledger-index" / "area.d").glob("*.json"):
        entry.write_text("{}")
    report = _verify(project, full=False)
    assert [(d.change, d.path.rsplit("/", 1)[-1]) for d in report.differences] == [
        ("added", "planted.json")
    ]


def test_observations_on_a_long_history_keep_using_the_index(tmp_path: Path) -> None:
    project = probe_project(tmp_path, None)
    config = load_config(project.config_file)
    seal(project, config, jobs=1)
    for _ in range(4):
        assert observe(project, config, 1).event.classification == "STABLE"
    report = _verify(project, full=False)
    assert report.intact and not report.log_full
    day = project.runtime / "events" / datetime.now(UTC).strftime("%Y%m%d")
    assert len(list(day.glob("RTE_*.json"))) == 4  # event files in their day's folder
