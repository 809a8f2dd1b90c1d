"""The rule table, row by row, as a pure function; then how an observation combines probes."""

from dataclasses import replace

import pytest

from sealguard.facts import (
    ConsoleSummary,
    ObservationFacts,
    ProbeBaseline,
    ProbeFacts,
    Survivor,
    Violation,
)
from sealguard.observe.classify import PROBE_RULES, classify, classify_probe, rule_table

BASE = ProbeBaseline(
    output_sha256="a" * 64, verdict="PASS", tests={"t::one": "passed", "t::two": "passed"},
    test_count=2, format={"kind": "junit-xml", "shape": ["/testsuites"]}, tool_version="8.3.4",
)  # fmt: skip
GREEN = ConsoleSummary(passed=2, found=True)
SOUND = ProbeFacts(
    name="unit", kind="junit-xml", exit_code=0, expect_exit=0, report_state="ok",
    tests=dict(BASE.tests), test_count=2, console=GREEN, output_sha256=BASE.output_sha256,
    format=BASE.format, tool_version="8.3.4", runner="pytest", baseline=BASE,
)  # fmt: skip
NO_TESTS = {"tests": {}, "test_count": 0, "console": ConsoleSummary(), "output_sha256": None}

CASES = {
    "PD-01": {"timed_out": True, "exit_code": None, **NO_TESTS},
    "PD-10": {"survivors": (Survivor(4242, "sh -c 'sleep 1; touch src/x'"),)},  # all else sound
    "PD-02": {"tests": {"t::one": "passed", "t::two": "failed"}, "exit_code": 1},
    "PD-03": {"tests": {"t::one": "passed", "t::two": "skipped"}},
    "PD-04": {"signatures": ("unhandled-error",), "exit_code": 1},
    "TD-01": {
        "report_state": "unparseable",
        "report_problem": "not XML",
        **{**NO_TESTS, "console": GREEN, "test_count": 2},
    },
    "TD-02": {
        "signatures": ("npm:EINTEGRITY",),
        "exit_code": 1,
        "runner": "npm",
        **NO_TESTS,
        "report_state": "missing",
    },
    "TD-03": {"exit_code": 127, **NO_TESTS, "report_state": "missing"},
    "TD-04": {"exit_code": 4, **NO_TESTS, "report_state": "missing"},
    "TD-05": {
        "signatures": ("vitest-startup-error",),
        "exit_code": 1,
        **NO_TESTS,
        "report_state": "missing",
    },
    "TD-06": {
        "signatures": ("traceback-in-runner",),
        "exit_code": 1,
        **NO_TESTS,
        "report_state": "missing",
    },
    "TD-07": {
        "signatures": ("permission-denied-tool",),
        "exit_code": 1,
        **NO_TESTS,
        "report_state": "missing",
    },
    "TD-08": {"suite_failures": ("Cannot find module 'x'",) * 3, "exit_code": 1, **NO_TESTS},
    "TD-09": {
        "tool_version": "8.4.0",
        "output_sha256": "b" * 64,
        "format": {"kind": "junit-xml", "shape": ["/new"]},
    },
    "PD-05": {**NO_TESTS, "output_sha256": "c" * 64},
    "PD-06": {"exit_code": 1},
    "PD-07": {"output_sha256": "d" * 64},
    "PD-08": {"format": {"kind": "junit-xml", "shape": ["/other"]}},
    "PD-09": {"baseline": None, "exit_code": 1},  # the catch-all: nothing to compare with
    "ST-01": {},
}


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == {rule.id for rule in PROBE_RULES}


@pytest.mark.parametrize("rule_id", list(CASES))
def test_rule_row(rule_id: str) -> None:
    facts = replace(SOUND, **CASES[rule_id])
    klass, steps = classify_probe(facts)
    matched = [s for s in steps if s.matched]
    assert [s.rule for s in matched] == [rule_id], [(s.rule, s.detail) for s in steps]
    assert klass == next(r.klass for r in PROBE_RULES if r.id == rule_id)
    assert [s.rule for s in steps] == [r.id for r in PROBE_RULES][
        : len(steps)
    ]  # tried in table order
    assert matched[0].detail


def test_a_runner_failure_without_tooling_signature_is_product_drift() -> None:
    """A failure nobody can explain is PRODUCT_DRIFT, never TOOLING_DRIFT."""
    facts = replace(
        SOUND,
        exit_code=1,
        report_state="missing",
        **{k: v for k, v in NO_TESTS.items() if k != "output_sha256"},
    )
    klass, steps = classify_probe(facts)
    assert klass == "PRODUCT_DRIFT" and steps[-1].rule == "PD-05"


def test_a_probe_that_timed_out_is_a_hang_even_with_processes_left() -> None:
    facts = replace(SOUND, timed_out=True, exit_code=None, survivors=(Survivor(7, "sleep 60"),))
    assert [s.rule for s in classify_probe(facts)[1] if s.matched] == ["PD-01"]


def test_survivors_are_named_in_the_detail() -> None:
    many = tuple(Survivor(pid, f"worker {pid}") for pid in range(10, 15))
    step = classify_probe(replace(SOUND, survivors=many))[1][-1]
    assert step.rule == "PD-10"
    assert step.detail == (
        "5 process(es) still running when it ended, killed: "
        "pid 10: worker 10; pid 11: worker 11; pid 12: worker 12 (+2 more)"
    )


def test_vitest_exit_1_with_every_test_passing_is_not_stable() -> None:
    """Never classify from one signal: the report says every test passed, the exit code says
    otherwise, so the verdict is FAIL and that is a drift (the report's own `success` flag is
    not read at all)."""
    facts = replace(SOUND, kind="vitest-json", exit_code=1, runner="vitest")
    klass, steps = classify_probe(facts)
    assert (klass, [s.rule for s in steps if s.matched]) == ("PRODUCT_DRIFT", ["PD-06"])


def test_a_failing_test_outranks_a_tooling_signature() -> None:
    facts = replace(
        SOUND,
        tests={"t::one": "failed", "t::two": "passed"},
        signatures=("npm:EINTEGRITY",),
        exit_code=1,
    )
    assert classify_probe(facts)[0] == "PRODUCT_DRIFT"


def test_report_broken_but_console_count_differs_is_not_tooling() -> None:
    facts = replace(
        SOUND,
        report_state="missing",
        tests={},
        console=ConsoleSummary(passed=1, found=True),
        test_count=1,
        output_sha256=None,
    )
    assert classify_probe(facts)[0] == "PRODUCT_DRIFT"


def test_observation_takes_the_most_severe_probe_and_records_the_path() -> None:
    tooling = replace(
        SOUND,
        name="e2e",
        exit_code=127,
        report_state="missing",
        **NO_TESTS,
    )
    drift = replace(SOUND, name="unit", output_sha256="e" * 64)
    result = classify(ObservationFacts((), (), (SOUND, tooling, drift)))
    assert result.klass == "PRODUCT_DRIFT"
    assert [s.rule for s in result.path[:2]] == ["INC-01", "INC-02"]
    assert [(s.rule, s.probe) for s in result.why] == [
        ("ST-01", "unit"),
        ("TD-03", "e2e"),
        ("PD-07", "unit"),
    ]


def test_invariants_make_an_incident() -> None:
    before = (Violation("INV-D-02", "modified", "src/app.py", "content changed"),)
    result = classify(ObservationFacts(before, (), (), probes_run=False))
    assert result.klass == "INCIDENT" and result.why[0].rule == "INC-01"
    after = (Violation("INV-D-02", "added", "src/cache.db", "new a file"),)
    result = classify(ObservationFacts((), after, (SOUND,)))
    assert result.klass == "INCIDENT" and [s.rule for s in result.why] == ["INC-02", "ST-01"]


def test_rule_table_lists_every_rule_once() -> None:
    ids = [row[0] for row in rule_table()]
    assert len(ids) == len(set(ids)) and ids[:2] == ["INC-01", "INC-02"]


def test_readme_lists_the_rule_table() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for rule_id, klass, meaning in rule_table():
        assert f"| {rule_id} | {klass} | {meaning} |" in readme, rule_id


@pytest.mark.parametrize("kind", ["text", "json", "pytest", "junit-xml", "vitest-json"])
def test_failing_tests_the_console_names_are_in_the_reason(kind: str) -> None:
    # a report with no per-test statuses (text, any JSON) still names what the console says
    console = ConsoleSummary(
        passed=2, failed=2, found=True, failing=("sum › carries", "sum › borrows")
    )
    probe = replace(SOUND, kind=kind, exit_code=1, tests={}, test_count=4, console=console)
    klass, steps = classify_probe(probe)
    assert (klass, steps[-1].rule) == ("PRODUCT_DRIFT", "PD-02")
    assert steps[-1].detail == (
        "the console reports 2 failed and 0 errors: sum › borrows, sum › carries"
    )
