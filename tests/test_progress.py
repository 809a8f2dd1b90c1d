"""The progress bar: drawn on a terminal for long runs, absent when piped or short."""

import re
from pathlib import Path

import pytest

from sealguard.seal import progress

from .probe_projects import unsealed_cat_project


def test_no_bar_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: False)
    with progress.progress_bar("verifying") as start:
        assert start is None


def test_bar_only_for_long_runs_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich draws into the captured stderr as on a tty
    with progress.progress_bar("verifying") as start:
        assert start is not None
        assert start(progress.LONG_RUN - 1) is None
    assert "verifying" not in capsys.readouterr().err  # a short run draws no bar
    with progress.progress_bar("verifying") as start:
        assert start is not None
        advance = start(progress.LONG_RUN)
        assert advance is not None
        advance(progress.LONG_RUN, 123)
    drawn = capsys.readouterr()
    assert drawn.out == ""  # the bar never mixes with output that scripts read
    assert "verifying" in drawn.err and "5,000/5,000 paths" in drawn.err


def _terminal(monkeypatch: pytest.MonkeyPatch, yes: bool) -> None:
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: yes)
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich draws into the captured stderr as on a tty
    monkeypatch.setenv("COLUMNS", "120")


def test_seal_shows_hashing_then_each_probe_on_a_terminal(
    tmp_path: Path, invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10 #17: seal was silent for the whole run, and its one time read as hashing."""
    project = unsealed_cat_project(tmp_path)
    _terminal(monkeypatch, True)
    result = invoke("--project", str(project.root), "seal")
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert "hashing 1 paths" in err and "probe value" in err
    assert err.index("hashing 1 paths") < err.index("probe value")
    assert "0:00:0" in err  # each step's elapsed time (rich's h:mm:ss)
    assert re.search(
        r" in \d+\.\d\d s: hashing \d+\.\d\d s, probes \d+\.\d\d s \(value \d+\.\d\d s\)\n",
        result.stdout,
    )


def test_seal_and_observe_show_nothing_more_when_not_a_terminal(
    tmp_path: Path, invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = unsealed_cat_project(tmp_path)
    _terminal(monkeypatch, False)
    sealed = invoke("--project", str(project.root), "seal")
    assert (sealed.exit_code, sealed.stderr) == (0, "")
    observed = invoke("--project", str(project.root), "observe")
    assert (observed.exit_code, observed.stderr) == (0, "")


def test_observe_shows_the_check_and_each_probe_on_a_terminal(
    tmp_path: Path, invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = unsealed_cat_project(tmp_path)
    assert invoke("--project", str(project.root), "seal").exit_code == 0
    _terminal(monkeypatch, True)
    result = invoke("--project", str(project.root), "observe")
    assert result.exit_code == 0, result.output
    assert "checking" in result.stderr and "probe value" in result.stderr
    assert "probe value" not in result.stdout  # what scripts read stays as it was


def test_steps_outside_a_display_do_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert progress.hashing("hashing")(10) is None
    with progress.probe("x"):
        pass
    assert capsys.readouterr() == ("", "")
