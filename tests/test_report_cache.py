"""The report's cache of timeline rows (report/trail_cache.py): the same trail as reading the
whole log, kept at the verified state, signed with the log key, ignored when anything is off."""

import json
import re
from pathlib import Path

import msgspec

from sealguard import ledger
from sealguard.config import load_config
from sealguard.ledger import signed
from sealguard.ledger.incremental import signing_key
from sealguard.project import Project
from sealguard.report import trail_cache
from sealguard.report.trail import Period, Trail, fold

from .probe_projects import cat_project
from .report_history import run


def _observe(project: Project, times: int, code: int = 0) -> None:
    for _ in range(times):
        done = run(project, "observe")
        assert done.exit_code == code, done.output


def _reported(project: Project) -> Trail:
    done = run(project, "report", "--json")
    assert done.exit_code == 0, done.output
    return msgspec.convert(json.loads(done.stdout)["trail"], Trail)


def _from_the_whole_log(project: Project) -> Trail:
    book = project.ledger(load_config(project.config_file))
    rows = list(trail_cache.read_rows(book))
    origin = ledger.read_events(book.log)[0]["log_key"]["origin"]
    return fold(Period(), origin, rows, ledger.read_events(book.log))


def _cache_file(project: Project) -> Path:
    return project.ledger(load_config(project.config_file)).index / "report-rows"


def test_the_cached_trail_is_the_one_the_whole_log_gives(tmp_path: Path) -> None:
    project = cat_project(tmp_path)
    _observe(project, 3)
    first = _reported(project)
    assert _cache_file(project).is_file()
    saved = json.loads(_cache_file(project).read_bytes().partition(b"\n")[0])
    assert len(saved["rows"]) == 3
    _observe(project, 2)
    (project.root / "data/value.txt").write_text("43\n")
    _observe(project, 1, code=2)
    again = _reported(project)
    assert len(again.observations) == 6 and again.observations[:3] == first.observations
    assert again == _from_the_whole_log(project)
    assert [o.classification for o in again.observations][-1] == "PRODUCT_DRIFT"
    saved = json.loads(_cache_file(project).read_bytes().partition(b"\n")[0])
    assert len(saved["rows"]) == 6  # moved to the verified state the report's audit left


def _forge(project: Project, edit: "dict[str, object]", key_signed: bool) -> None:
    """Rewrite the cache's body: signed again with the log key, or left with the old signature."""
    book = project.ledger(load_config(project.config_file))
    path = _cache_file(project)
    body, _, signature = path.read_bytes().partition(b"\n")
    data = json.loads(body)
    data["rows"][0].update(edit)
    forged = json.dumps(data, separators=(",", ":")).encode()
    if key_signed:
        key = signing_key(book)
        assert key is not None
        signed.write(path, forged, key, trail_cache.DOMAIN)
    else:
        path.write_bytes(forged + b"\n" + signature)


def test_a_cache_edited_without_the_log_key_is_ignored(tmp_path: Path) -> None:
    project = cat_project(tmp_path)
    _observe(project, 2)
    _reported(project)
    _forge(project, {"classification": "INCIDENT"}, key_signed=False)
    assert [o.classification for o in _reported(project).observations] == ["STABLE"] * 2


def test_a_cache_the_log_key_signed_is_used_as_far_as_it_goes(tmp_path: Path) -> None:
    project = cat_project(tmp_path)
    _observe(project, 2)
    _reported(project)
    # whoever holds the log key can forge it, as they could forge checkpoints (README)
    _forge(project, {"classification": "INCIDENT"}, key_signed=True)
    assert [o.classification for o in _reported(project).observations] == [
        "INCIDENT",
        "STABLE",
    ]


def test_a_log_altered_since_is_read_whole_and_the_cache_not_used(tmp_path: Path) -> None:
    project = cat_project(tmp_path)
    _observe(project, 2)
    _reported(project)
    _forge(project, {"classification": "TOOLING_DRIFT"}, key_signed=True)
    log = project.log_file
    altered = log.read_bytes().replace(
        b'"classification":"STABLE"', b'"classification":"PRODUCT_DRIFT"', 1
    )
    log.write_bytes(altered)
    done = run(project, "report", "--json")
    assert done.exit_code == 3, done.output  # the page is made; the log is not intact
    data = json.loads(done.stdout)
    assert data["verification"]["intact"] is False
    assert [o["classification"] for o in data["trail"]["observations"]] == [
        "PRODUCT_DRIFT",
        "STABLE",
    ]


def test_the_cache_is_the_ledgers_own_and_verify_full_stays_intact(tmp_path: Path) -> None:
    project = cat_project(tmp_path)
    _observe(project, 1)
    _reported(project)
    assert _cache_file(project).is_file()
    done = run(project, "verify", "--full")
    assert done.exit_code == 0, done.output


def test_a_runtime_event_with_a_field_of_the_wrong_type_is_one_line(tmp_path: Path) -> None:
    project = cat_project(tmp_path)
    _observe(project, 1)
    log = project.log_file
    log.write_bytes(re.sub(rb'"duration_ms":\d+', b'"duration_ms":"x"', log.read_bytes(), count=1))
    done = run(project, "report", "--json")
    assert done.exit_code == 65, done.output
    assert "(runtime_event): Expected `int`, got `str` - at `$.probes[0].duration_ms`" in (
        done.stderr
    )
