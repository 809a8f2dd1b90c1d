"""The diff with the baseline: GNU diff in its own process, read back bounded."""

from pathlib import Path

import pytest

from sealguard.events import ProbeRecord, Step
from sealguard.observe.diffing import (
    DIFF_LINES,
    LINE_BYTES,
    explain,
    render,
    status_changes,
    unified,
)

NAMES = ("baseline/output.normalized", "observed/output.normalized")


def _files(tmp_path: Path, before: str, after: str) -> tuple[Path, Path]:
    (tmp_path / "base").write_text(before)
    (tmp_path / "now").write_text(after)
    return tmp_path / "base", tmp_path / "now"


def test_a_small_change_is_a_unified_diff(tmp_path: Path) -> None:
    lines = unified(*_files(tmp_path, "a\nb\nc\n", "a\nB\nc\n"), NAMES, tmp_path)
    assert lines == [
        "--- baseline/output.normalized",
        "+++ observed/output.normalized",
        "@@ -1,3 +1,3 @@",
        " a",
        "-b",
        "+B",
        " c",
    ]
    assert not list(tmp_path.glob(".diff*"))  # diff's output is gone


def test_many_short_lines_with_scattered_changes_give_a_bounded_diff(tmp_path: Path) -> None:
    """900,000 lines: difflib took minutes and about 300 MiB for this."""
    before = "".join(f"{i:07d}\n" for i in range(900_000))
    after = "".join(f"{i:07d}\n" if i % 1000 else "changed\n" for i in range(900_000))
    lines = unified(*_files(tmp_path, before, after), NAMES, tmp_path)
    assert len(lines) == DIFF_LINES + 1
    assert lines[-1] == "... 7699 more diff lines left out; compare the files in the snapshot"


def test_a_long_line_is_cut(tmp_path: Path) -> None:
    lines = unified(*_files(tmp_path, "x" * 100_000 + "\n", "y" * 100_000 + "\n"), NAMES, tmp_path)
    assert lines[3] == "-" + "x" * (LINE_BYTES - 1) + f" [line cut at {LINE_BYTES} bytes]"
    assert lines[4].startswith("+yyy") and len(lines) == 5


def test_a_missing_file_counts_as_empty(tmp_path: Path) -> None:
    (tmp_path / "now").write_text("new\n")
    lines = unified(tmp_path / "absent", tmp_path / "now", NAMES, tmp_path)
    assert lines[2:] == ["@@ -0,0 +1 @@", "+new"]


def test_without_diff_installed_the_files_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    lines = unified(*_files(tmp_path, "a\n", "b\n"), NAMES, tmp_path)
    assert lines == [
        "(diff could not run: No such file or directory; "
        "compare the files in the snapshot with governance/baseline/)"
    ]


def test_render_puts_status_changes_first() -> None:
    changes = status_changes(
        {"t::a": "passed", "t::b": "passed"}, {"t::a": "failed", "t::b": "passed"}
    )
    assert render("unit", changes, []) == (
        "# probe unit: differences from the baseline\n\n## test status changes (1)\n"
        "t::a: passed -> failed\n\n## normalised output (unified diff)\n(identical)\n"
    )


def _record(**fields: object) -> ProbeRecord:
    """A junit-xml probe's record that passed as sealed, with `fields` changed."""
    values: dict[str, object] = {
        "name": "unit", "kind": "junit-xml", "exit_code": 0, "expect_exit": 0,
        "timed_out": False, "signal": None, "duration_ms": 1000, "verdict": "PASS",
        "baseline_verdict": "PASS", "output_sha256": "a" * 64, "baseline_output_sha256": "b" * 64,
        "report_state": "ok", "report_problem": "", "test_count": 3, "baseline_test_count": 3,
        "status_counts": {"passed": 3}, "status_changes": [], "format_changed": False,
        "tool_version": None, "baseline_tool_version": None, "signatures": [], "console": None,
        "stdout_sha256": "c" * 64, "stderr_sha256": "d" * 64,
    }  # fmt: skip
    return ProbeRecord(**{**values, **fields})  # type: ignore[arg-type]


def test_a_runner_that_is_gone_is_explained_not_diffed() -> None:
    record = _record(verdict="FAIL", exit_code=1, report_state="missing",
                     report_problem="the report file was not written")  # fmt: skip
    cause = Step(rule="TD-03", klass="TOOLING_DRIFT", matched=True, detail="no-module-pytest")
    text = explain(record, cause, ["-the baseline's whole output"])
    assert text.splitlines()[2] == "cause: TD-03 TOOLING_DRIFT: no-module-pytest"
    assert "the junit-xml report is missing: the report file was not written" in text
    assert "the run: exit 1, expected 0" in text
    assert "-the baseline's whole output" not in text


def test_a_tool_upgrade_keeps_its_output_diff() -> None:
    """TD-09: the tooling did not fail (the run passed, its report was read): the diff says
    what the new version prints differently."""
    cause = Step(rule="TD-09", klass="TOOLING_DRIFT", matched=True, detail="tool 8 -> 9")
    text = explain(_record(), cause, ["-version 8", "+version 9"])
    assert "## normalised output (unified diff)\n-version 8\n+version 9\n" in text


def test_a_product_drift_keeps_its_output_diff() -> None:
    cause = Step(rule="PD-07", klass="PRODUCT_DRIFT", matched=True, detail="output sha256 …")
    text = explain(_record(verdict="FAIL", report_state="missing"), cause, ["-a", "+b"])
    assert text.endswith("## normalised output (unified diff)\n-a\n+b\n")
