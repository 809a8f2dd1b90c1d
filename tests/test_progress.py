"""The progress bar: drawn on a terminal for long runs, absent when piped or short."""

import pytest

from sealguard import progress


def test_no_bar_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: False)
    with progress.progress_bar("verifying") as start:
        assert start is None


def test_bar_only_for_long_runs_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    with progress.progress_bar("verifying") as start:
        assert start is not None
        assert start(progress.LONG_RUN - 1) is None
    with progress.progress_bar("verifying") as start:
        assert start is not None
        advance = start(progress.LONG_RUN)
        assert advance is not None
        advance(progress.LONG_RUN, 123)
    assert "stdout" not in capsys.readouterr().out
