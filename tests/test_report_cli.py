"""`sealguard report`: its options, its one-line errors and the files it writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sealguard.report.trail import Trail, content_sha256

from .browser import CHROMIUM
from .report_history import SCRIPT, History, history_fixture, run  # noqa: F401 (fixture)


def _one_line(text: str) -> str:
    assert text.count("\n") == 1, text
    return text


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--since", "last tuesday", "-o", "r.html"],
         "sealguard: Invalid value for '--since': 'last tuesday' is not an ISO 8601 time "
         "such as 2026-11-01T00:00:00Z (see: sealguard report --help)"),
        (["--until", "2026-13-01", "--json"],
         "sealguard: Invalid value for '--until': '2026-13-01' is not an ISO 8601 time "
         "such as 2026-11-01T00:00:00Z (see: sealguard report --help)"),
        (["--since", "2026-11-02", "--until", "2026-11-01T00:00:00+00:00", "--json"],
         "sealguard: --until 2026-11-01T00:00:00Z is not after --since 2026-11-02T00:00:00Z"),
        ([], "sealguard: report: give either -o FILE (the HTML page, or --pdf) or --json"),
        (["--json", "-o", "r.html"],
         "sealguard: report: give either -o FILE (the HTML page, or --pdf) or --json"),
        (["--pdf", "--json"], "sealguard: report: --pdf needs -o FILE.pdf"),
    ],
)  # fmt: skip
def test_wrong_options_are_one_line_and_exit_64(
    history: History, tmp_path: Path, args: list[str], said: str
) -> None:
    project = history.copy(tmp_path / "p")
    done = run(project, "report", *args)
    assert (done.exit_code, _one_line(done.stderr)) == (64, said + "\n")
    assert not (tmp_path / "r.html").exists()


def test_before_the_seal_it_says_so_and_writes_nothing(tmp_path: Path, make_project) -> None:
    project = make_project()
    done = run(project, "report", "-o", str(tmp_path / "r.html"))
    assert done.exit_code == 64
    assert "`report` needs a sealed project" in _one_line(done.stderr)
    assert not (tmp_path / "r.html").exists()


def test_json_prints_the_model_with_the_hash_of_its_trail(history: History, tmp_path: Path) -> None:
    import msgspec

    project = history.copy(tmp_path / "p")
    done = run(project, "report", "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    trail = msgspec.convert(data["trail"], Trail)
    assert data["content_sha256"] == content_sha256(trail)
    assert data["reviews"] == []
    assert data["banner"]["mode"] == "HALTED" and data["banner"]["baseline_version"] == 2
    assert data["verification"]["intact"] is True
    assert data["verification"]["summary"].startswith("INTACT: ")
    assert data["verification"]["checkpoint"]["size"] == data["verification"]["lines"]
    drift = next(n for n in data["trail"]["notable"] if n["event_id"] == history.ids["drift"])
    proof = data["proofs"][str(drift["seq"])]
    assert proof["valid"] is True
    diff = data["evidence"][f"{drift['evidence']['path']}/fuel-table/diff.txt"]
    assert diff["state"] == "intact" and "PD-07" in diff["text"]


def test_a_proof_from_the_report_is_checked_offline_by_log_check_proof(
    history: History, tmp_path: Path
) -> None:
    project = history.copy(tmp_path / "p")
    data = json.loads(run(project, "report", "--json").stdout)
    for seq, proof in data["proofs"].items():
        bundle = tmp_path / f"proof-{seq}.json"
        bundle.write_text(json.dumps(proof["bundle"]))
        checked = run(project, "log", "check-proof", str(bundle))
        assert checked.exit_code == 0, checked.output
        assert f"event seq {seq} is in the log" in checked.stdout
    assert len(data["proofs"]) == 3


def test_changed_evidence_is_shown_as_changed(history: History, tmp_path: Path) -> None:
    project = history.copy(tmp_path / "p")
    data = json.loads(run(project, "report", "--json").stdout)
    rel = next(p for p in data["evidence"] if p.endswith("diff.txt"))
    (project.root / rel).write_text("nothing to see\n")
    again = json.loads(run(project, "report", "--json").stdout)
    assert again["evidence"][rel]["state"] == "changed"
    assert again["evidence"][rel]["text"] == "nothing to see\n"
    assert again["content_sha256"] == data["content_sha256"]  # the log did not change


def test_the_page_is_one_file_that_shows_what_the_log_says_as_text(
    history: History, tmp_path: Path
) -> None:
    project = history.copy(tmp_path / "p")
    target = tmp_path / "report.html"
    done = run(project, "report", "-o", str(target))
    assert done.exit_code == 0, done.output
    page = target.read_text(encoding="utf-8")
    assert done.stdout.startswith(f"wrote {target}: ")
    assert SCRIPT not in page and "<script" not in page
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in page
    for outside in ("http://", "https://", "src=", "@import", "url("):
        assert outside not in page.replace("http-equiv", ""), outside
    for event_id in (history.ids["tooling"], history.ids["drift"], history.ids["incident"]):
        assert f'id="{event_id}"' in page


def test_a_page_that_cannot_be_written_is_one_line_and_exit_74(
    history: History, tmp_path: Path
) -> None:
    project = history.copy(tmp_path / "p")
    done = run(project, "report", "-o", str(tmp_path / "missing" / "r.html"))
    assert done.exit_code == 74
    assert "missing/r.html: cannot write the report" in _one_line(done.stderr)


def test_pdf_without_chromium_is_one_line_and_exit_69(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = history.copy(tmp_path / "p")
    monkeypatch.setenv("SEALGUARD_CHROMIUM", str(tmp_path / "no-chromium"))
    done = run(project, "report", "--pdf", "-o", str(tmp_path / "r.pdf"))
    assert done.exit_code == 69
    assert _one_line(done.stderr).startswith("sealguard: --pdf needs a headless chromium")
    assert not (tmp_path / "r.pdf").exists()


def test_pdf_through_a_chromium_that_fails_is_one_line_and_exit_69(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = history.copy(tmp_path / "p")
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("SEALGUARD_CHROMIUM", str(broken))
    done = run(project, "report", "--pdf", "-o", str(tmp_path / "r.pdf"))
    assert done.exit_code == 69
    assert _one_line(done.stderr) == (
        f"sealguard: --pdf: {broken} exited 1 without a PDF (cannot open display)\n"
    )


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="no chromium installed")
def test_pdf_is_printed_by_headless_chromium_through_the_console_script(
    history: History, tmp_path: Path
) -> None:
    project = history.copy(tmp_path / "p")
    target = tmp_path / "report.pdf"
    env = {**os.environ, "SEALGUARD_CHROMIUM": CHROMIUM}
    done = subprocess.run(
        [sys.executable, "-m", "sealguard", "--project", str(project.root), "report", "--pdf",
         "-o", str(target)],
        capture_output=True, text=True, timeout=300, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert target.read_bytes().startswith(b"%PDF-")
    assert target.stat().st_size > 10_000


def test_a_log_that_is_gone_is_reported_halted_and_exits_3(
    history: History, tmp_path: Path
) -> None:
    project = history.copy(tmp_path / "p")
    project.log_file.unlink()
    done = run(project, "report", "--json")
    assert done.exit_code == 3, done.output
    data = json.loads(done.stdout)
    assert (
        data["banner"]["mode"] == "HALTED"
        and "the governance log is gone" in (data["banner"]["reason"])
    )
    assert data["verification"]["intact"] is False and data["trail"]["observations"] == []


def test_a_line_that_is_not_json_is_one_line_and_exit_65(history: History, tmp_path: Path) -> None:
    project = history.copy(tmp_path / "p")
    lines = project.log_file.read_bytes().split(b"\n")
    lines[4] = b"garbage"
    project.log_file.write_bytes(b"\n".join(lines))
    done = run(project, "report", "-o", str(tmp_path / "r.html"))
    assert (done.exit_code, _one_line(done.stderr)) == (
        65,
        f"sealguard: {project.log_file}:5: not a JSON event; run `sealguard log verify`\n",
    )


def test_an_observation_refused_while_frozen_is_in_the_trail(tmp_path: Path) -> None:
    from .decision_projects import drift, governed, make_team
    from .decision_projects import run as invoke

    project = governed(tmp_path, make_team(tmp_path / "keys"))
    drift(project)
    assert invoke(project, "observe").exit_code == 4  # FROZEN: refused, journaled
    trail = json.loads(invoke(project, "report", "--json").stdout)["trail"]
    [refused] = trail["refusals"]
    assert (refused["type"], refused["reason_code"]) == ("observation_refused", "FROZEN")
    assert "PRODUCT_DRIFT" in refused["message"]
