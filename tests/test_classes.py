"""The one table of the four classes agrees with everything that reads a class."""

from sealguard.classes import CLASSES, ESCALATED, lookup
from sealguard.config import EscalationConfig
from sealguard.events import event_schema
from sealguard.exitcodes import ExitCode


def test_ranks_follow_exit_codes_and_each_class_has_its_own() -> None:
    ordered = sorted(CLASSES.values(), key=lambda c: c.rank)
    assert [c.name for c in ordered] == ["STABLE", "TOOLING_DRIFT", "PRODUCT_DRIFT", "INCIDENT"]
    assert [c.exit_code for c in ordered] == [
        ExitCode.OK,
        ExitCode.TOOLING_DRIFT,
        ExitCode.PRODUCT_DRIFT,
        ExitCode.INCIDENT,
    ]


def test_only_drift_and_incident_stop_observation() -> None:
    assert {n: c.stops for n, c in CLASSES.items()} == {
        "STABLE": None,
        "TOOLING_DRIFT": None,
        "PRODUCT_DRIFT": "FROZEN",
        "INCIDENT": "HALTED",
    }


def test_every_escalated_class_has_a_matrix_row() -> None:
    assert ESCALATED == ("TOOLING_DRIFT", "PRODUCT_DRIFT", "INCIDENT")
    assert all(EscalationConfig().row(name) is not None for name in ESCALATED)
    assert EscalationConfig().row("STABLE") is None


def test_the_event_schema_names_the_same_severities() -> None:
    props = event_schema()["$defs"]["RuntimeEvent"]["properties"]
    assert set(props["severity"]["enum"]) == {c.severity for c in CLASSES.values()}
    assert set(props["classification"]["enum"]) == set(CLASSES)


def test_lookup_answers_none_for_what_is_no_class() -> None:
    assert lookup("INCIDENT") is CLASSES["INCIDENT"]
    assert lookup("FROZEN") is None
    assert lookup(None) is None
