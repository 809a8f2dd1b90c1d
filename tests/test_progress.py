"""The progress bar: drawn on a terminal for long runs, absent when piped or short."""

import pytest

from sealguard.seal import progress


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
