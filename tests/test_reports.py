"""Report readers: vitest/jest JSON, JUnit XML, generic JSON; their states and signatures."""

import json
from pathlib import Path

import pytest

from sealguard.probes.reports import MAX_DEPTH, MAX_NODES, key_paths, read_report, too_large

ROOT = "/srv/product"
VITEST = {
    "numTotalTests": 3, "numPassedTests": 2, "numFailedTests": 1, "success": False,
    "startTime": 1764180000000,
    "testResults": [
        {
            "name": f"{ROOT}/src/sum.test.js", "status": "failed", "message": "",
            "startTime": 1764180000001, "endTime": 1764180000009,
            "assertionResults": [
                {"ancestorTitles": ["sum"], "fullName": "sum adds", "status": "passed", "title": "adds", "duration": 1},
                {"ancestorTitles": ["sum"], "fullName": "sum carries", "status": "failed", "title": "carries",
                 "failureMessages": ["expected 3 to be 4"], "duration": 2},
                {"ancestorTitles": ["sum"], "fullName": "sum later", "status": "todo", "title": "later"},
            ],
        }
    ],
}  # fmt: skip
JUNIT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4"
 time="0.05" timestamp="2026-11-26T18:00:00" hostname="ci-7">
<testcase classname="tests.test_calc" name="test_ok" time="0.001"/>
<testcase classname="tests.test_calc" name="test_bad" time="0.002"><failure message="assert 1 == 2">E</failure></testcase>
<testcase classname="tests.test_calc" name="test_err" time="0.001"><error message="boom">E</error></testcase>
<testcase classname="tests.test_calc" name="test_skip" time="0"><skipped message="later"/></testcase>
</testsuite></testsuites>"""


def test_vitest_json() -> None:
    reading = read_report("vitest-json", json.dumps(VITEST).encode(), ROOT)
    assert reading.state == "ok"
    assert reading.tests == {
        "src/sum.test.js > sum adds": "passed",
        "src/sum.test.js > sum carries": "failed",
        "src/sum.test.js > sum later": "todo",
    }
    assert "testResults[].assertionResults[].status" in reading.format["keys"]


def test_vitest_suites_failing_before_any_test() -> None:
    broken = {
        "testResults": [
            {
                "name": f"{ROOT}/a.test.js",
                "status": "failed",
                "message": "Cannot find package 'x'",
                "assertionResults": [],
            }
        ]
        * 2
    }
    reading = read_report("vitest-json", json.dumps(broken).encode(), ROOT)
    assert reading.tests == {} and reading.suite_failures == ("Cannot find package 'x'",) * 2


def test_junit_xml() -> None:
    reading = read_report("junit-xml", JUNIT, ROOT)
    assert reading.state == "ok"
    assert reading.tests == {
        "tests.test_calc::test_ok": "passed",
        "tests.test_calc::test_bad": "failed",
        "tests.test_calc::test_err": "error",
        "tests.test_calc::test_skip": "skipped",
    }
    assert "/testsuites/testsuite@hostname" in reading.format["shape"]
    assert reading.document["children"][0]["attrs"]["hostname"] == "ci-7"


def test_report_states() -> None:
    assert read_report("junit-xml", None, ROOT).state == "missing"
    assert read_report("vitest-json", b"  \n", ROOT).state == "empty"
    assert read_report("vitest-json", b'{"testResults": [', ROOT).state == "unparseable"
    assert read_report("vitest-json", b'{"a": 1}', ROOT).problem.startswith(
        "not a vitest/jest JSON report"
    )
    assert read_report("junit-xml", JUNIT[:200], ROOT).state == "unparseable"
    assert (
        read_report("junit-xml", b"<html/>", ROOT).problem
        == "not a JUnit report (root element <html>)"
    )
    assert read_report("text", b"anything", ROOT).state == "none"


def test_generic_json_and_key_paths() -> None:
    reading = read_report("json", b'{"a": {"b": [1, {"c": 2}]}}', ROOT)
    assert reading.state == "ok"
    assert key_paths(reading.document) == {"a", "a.b", "a.b[].c"}


def test_a_report_too_large_to_read_says_so() -> None:
    reading = too_large(300 << 20, 32 << 20)
    assert reading.state == "too_large" and reading.document is None
    assert reading.problem == (
        "the report is 300 MiB, more than the 32 MiB sealguard reads; it is kept in the snapshot"
    )


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("json", b"[" * 100_000 + b"]" * 100_000),  # deeper than the parser goes
        ("json", b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)),  # parsed, then refused
        ("vitest-json", b'{"testResults": ' + b"[" * 900 + b"]" * 900 + b"}"),
        (
            "junit-xml",
            b"<testsuites>" + b"<a>" * MAX_DEPTH + b"</a>" * MAX_DEPTH + b"</testsuites>",
        ),
    ],
)
def test_a_report_nested_too_deeply_is_unparseable_not_a_crash(kind: str, data: bytes) -> None:
    reading = read_report(kind, data, ROOT)
    assert (reading.state, reading.problem) == (
        "unparseable",
        f"nested more than {MAX_DEPTH} levels deep",
    )


def test_a_report_at_the_depth_limit_is_read() -> None:
    depth = MAX_DEPTH - 1  # the list inside the object
    reading = read_report("json", b'{"a": ' + b"[" * depth + b"]" * depth + b"}", ROOT)
    assert reading.state == "ok"


@pytest.mark.parametrize(
    ("kind", "data", "problem"),
    [
        ("junit-xml", b"<testsuites>" + b"<a/>" * MAX_NODES["junit-xml"] + b"</testsuites>",
         f"the report holds up to {MAX_NODES['junit-xml'] + 2:,} tags, more than the "
         f"{MAX_NODES['junit-xml']:,} sealguard reads; it is kept in the snapshot"),
        ("vitest-json", b"[" + b"{}," * MAX_NODES["json"] + b"{}]",
         f"the report holds up to {2 * MAX_NODES['json'] + 2:,} values, more than the "
         f"{MAX_NODES['json']:,} sealguard reads; it is kept in the snapshot"),
    ],
)  # fmt: skip
def test_a_report_of_too_many_values_is_not_parsed(kind: str, data: bytes, problem: str) -> None:
    reading = read_report(kind, data, ROOT)
    assert (reading.state, reading.problem, reading.document) == ("too_large", problem, None)


def test_a_report_just_within_the_value_limit_is_read() -> None:
    count = MAX_NODES["junit-xml"] - 4  # with <testsuites>, <testsuite> and their end tags
    data = b'<testsuites><testsuite name="s">' + b'<testcase classname="c" name="n"/>' * count
    reading = read_report("junit-xml", data + b"</testsuite></testsuites>", ROOT)
    assert reading.state == "ok" and reading.tests == {"c::n": "passed"}


DATA = Path(__file__).parent / "data"


def test_node_junit_reads_cases_directly_under_testsuites_and_in_nested_suites() -> None:
    # node 20's `--test-reporter=junit` (real output, tests/data/junit/): top-level tests are
    # <testcase> children of <testsuites>, describe() blocks are suites nested in suites
    reading = read_report("junit-xml", (DATA / "junit/node-20-junit.xml").read_bytes(), ROOT)
    assert reading.state == "ok"
    assert reading.tests == {
        "test::adds": "passed",
        "test::fails": "failed",
        "test::skipped": "skipped",
        "test::inner passes": "passed",
        "test::inner fails": "failed",
        "test::deeper > deep passes": "passed",
    }


def test_junit_cases_of_one_name_keep_the_worst_status() -> None:
    # node 20 classes every case `test`: two files' "adds" are one name, and a failure shows
    for first, second in (("", "<failure/>"), ("<failure/>", ""), ("<skipped/>", "<error/>")):
        twice = (
            f'<testsuites><testcase classname="test" name="adds">{first}</testcase>'
            f'<testcase classname="test" name="adds">{second}</testcase></testsuites>'
        )
        reading = read_report("junit-xml", twice.encode(), ROOT)
        assert reading.tests == {"test::adds": "error" if "error" in second else "failed"}
