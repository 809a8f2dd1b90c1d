"""The one table of the four classes (STYLE 17): exit codes, ranks, states."""

from sealguard.classes import CLASSES, info_of, state_after, stops
from sealguard.exitcodes import ExitCode


def test_each_class_exits_with_its_own_code_and_ranks_by_it() -> None:
    assert [(k, int(v.exit_code)) for k, v in CLASSES.items()] == [
        ("STABLE", 0), ("TOOLING_DRIFT", 1), ("PRODUCT_DRIFT", 2), ("INCIDENT", 3),
    ]  # fmt: skip
    assert all(int(info.exit_code) == info.rank for info in CLASSES.values())
    assert CLASSES["INCIDENT"].exit_code == ExitCode.INCIDENT


def test_drift_freezes_an_incident_halts_and_halted_stays_halted() -> None:
    assert state_after("STABLE", "OBSERVING") == "OBSERVING"
    assert state_after("TOOLING_DRIFT", "OBSERVING") == "OBSERVING"
    assert state_after("PRODUCT_DRIFT", "OBSERVING") == "FROZEN"
    assert state_after("INCIDENT", "FROZEN") == "HALTED"
    assert state_after("PRODUCT_DRIFT", "HALTED") == "HALTED"
    assert stops("TOOLING_DRIFT") is None and stops("no such class") is None
    assert info_of("no such class") is None
