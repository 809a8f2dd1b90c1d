"""Reading runners' consoles: summaries, versions, per-test lines and signatures."""

import json
from pathlib import Path
from typing import Any

import pytest

from sealguard.probes.console import read_console

ROOT = "/srv/product"

PYTEST_VERBOSE = """\
============================= test session starts ==============================
platform linux -- Python 3.11.7, pytest-8.3.4, pluggy-1.5.0 -- /usr/bin/python3
rootdir: /srv/product
collected 3 items

tests/test_calc.py::test_add PASSED                                      [ 33%]
tests/test_calc.py::test_zero FAILED                                     [ 66%]
tests/test_calc.py::test_skip SKIPPED (later)                            [100%]

=================================== FAILURES ===================================
========================= 1 failed, 1 passed, 1 skipped in 0.04s ==============
"""

VITEST = """\
\x1b[1m\x1b[46m RUN \x1b[49m\x1b[22m \x1b[36mv3.2.4 \x1b[39m\x1b[90m/srv/product\x1b[39m

 \x1b[32m✓\x1b[39m src/sum.test.js \x1b[2m(\x1b[22m\x1b[2m2 tests\x1b[22m\x1b[2m)\x1b[22m\x1b[2m 3\x1b[2mms\x1b[22m\x1b[39m

\x1b[2m Test Files \x1b[22m \x1b[1m\x1b[32m1 passed\x1b[39m\x1b[22m\x1b[90m (1)\x1b[39m
\x1b[2m      Tests \x1b[22m \x1b[1m\x1b[32m2 passed\x1b[39m\x1b[22m\x1b[90m (2)\x1b[39m
\x1b[2m   Start at \x1b[22m 18:50:01
\x1b[2m   Duration \x1b[22m 412ms\x1b[2m (transform 18ms, setup 0ms, collect 9ms, tests 3ms)\x1b[22m
"""


def test_pytest_summary_version_and_tests() -> None:
    reading = read_console(PYTEST_VERBOSE, ROOT)
    assert reading.runner == "pytest" and reading.tool_version == "8.3.4"
    assert (reading.summary.passed, reading.summary.failed, reading.summary.skipped) == (1, 1, 1)
    assert reading.tests == {
        "tests/test_calc.py::test_add": "passed",
        "tests/test_calc.py::test_zero": "failed",
        "tests/test_calc.py::test_skip": "skipped",
    }
    assert not reading.summary.all_passed


def test_pytest_quiet_summary() -> None:
    reading = read_console("..\n2 passed in 0.01s\n", ROOT)
    assert reading.summary.all_passed and reading.summary.total == 2


def test_vitest_summary_through_ansi() -> None:
    reading = read_console(VITEST, ROOT)
    assert reading.runner == "vitest" and reading.tool_version == "3.2.4"
    assert reading.summary.all_passed and reading.summary.passed == 2
    failed = read_console(" Tests  1 failed | 3 passed (4)\n", ROOT)
    assert (failed.summary.failed, failed.summary.passed) == (1, 3)


@pytest.mark.parametrize(
    ("text", "signature"),
    [
        (
            "npm error code EINTEGRITY\nnpm error sha512-abc integrity checksum failed\n",
            "npm:EINTEGRITY",
        ),
        ("npm ERR! code ENOTCACHED\n", "npm:ENOTCACHED"),
        (
            "npm error code ERESOLVE\nnpm error ERESOLVE unable to resolve dependency tree\n",
            "npm:ERESOLVE",
        ),
        ("npm error code ENOSPC\n", "npm:ENOSPC"),
        ("npm error code EACCES\n", "npm:EACCES"),
        (
            'npm error npx canceled due to missing packages and no YES option: ["vitest@3.2.4"]\n',
            "npx-missing-packages",
        ),
        ("/usr/bin/python3: No module named pytest\n", "no-module-pytest"),
        ("sh: 1: vitest: not found\n", "command-not-found"),
        ("Startup Error\nFailed to load url ./vitest.config.js\n", "vitest-startup-error"),
        (
            "⎯⎯⎯⎯ Unhandled Errors ⎯⎯⎯⎯\nVitest caught 1 unhandled error during the test run.\n",
            "unhandled-error",
        ),
        (
            "Error: EACCES: permission denied, open '/srv/product/node_modules/.vite/vitest/results.json'\n",
            "permission-denied-tool",
        ),
        (
            "PermissionError: [Errno 13] Permission denied: '/usr/lib/python3/site-packages/_pytest/x.py'\n",
            "permission-denied-tool",
        ),
    ],
)
def test_signatures(text: str, signature: str) -> None:
    assert signature in read_console(text, ROOT).signatures


def test_tracebacks_are_told_apart() -> None:
    runner = (
        'Traceback (most recent call last):\n  File "<frozen runpy>", line 198, in _run_module_as_main\n'
        '  File "/usr/lib/python3.11/site-packages/_pytest/junitxml.py", line 642, in pytest_sessionfinish\n'
        "FileExistsError: [Errno 17] File exists: '/etc/hostname'\n"
    )
    product = runner.replace(
        '  File "/usr/lib/python3.11/site-packages/_pytest/junitxml.py"',
        f'  File "{ROOT}/src/calc.py"',
    )
    assert read_console(runner, ROOT).signatures == ("traceback-in-runner",)
    assert read_console(product, ROOT).signatures == ("traceback-in-product",)
    venv_in_project = runner.replace("/usr/lib/python3.11", f"{ROOT}/.venv/lib/python3.11")
    assert read_console(venv_in_project, ROOT).signatures == ("traceback-in-runner",)


def test_plain_output_has_no_runner() -> None:
    reading = read_console("hello\n", ROOT)
    assert reading.runner is None and not reading.summary.found and reading.signatures == ()


def test_pytest_statuses_line_by_line_are_those_of_the_whole_text() -> None:
    from sealguard.probes.console import pytest_tests, pytest_tests_by_line

    text = (
        "tests/test_a.py::test_one \x1b[32mPASSED\x1b[0m\n"
        "tests/test_a.py::test_two FAILED\n"
        "SKIPPED tests/test_a.py::test_three\n"
    )
    assert pytest_tests_by_line(text.splitlines(keepends=True)) == {
        "tests/test_a.py::test_one": "passed",
        "tests/test_a.py::test_two": "failed",
        "tests/test_a.py::test_three": "skipped",
    }
    assert pytest_tests(text)["tests/test_a.py::test_two"] == "failed"


# Real summaries from each runner's current and previous major version (how each was made is
# in its `origin`), the counts they give and the failing tests they name.
SUMMARIES = json.loads((Path(__file__).parent / "data/console/summaries.json").read_text())


@pytest.mark.parametrize(
    "row", SUMMARIES, ids=[f"{r['runner']}-{r['version'].split()[0]}" for r in SUMMARIES]
)
def test_every_runners_summary_is_recognised(row: dict[str, Any]) -> None:
    reading = read_console("\n".join(row["console"]) + "\n", ROOT)
    summary = reading.summary
    assert summary.found and reading.runner == row["runner"]
    counts = {k: getattr(summary, k) for k in ("passed", "failed", "errors", "skipped")}
    assert counts == row["expect"]
    assert sorted(summary.failing) == sorted(row["failing"])
    assert summary.all_passed == (not row["failing"] and row["expect"]["failed"] == 0)


def test_the_table_covers_two_major_versions_of_each_runner() -> None:
    majors: dict[str, set[str]] = {}
    for row in SUMMARIES:
        majors.setdefault(row["runner"], set()).add(row["version"].split(".")[0].split()[0])
    assert {runner: len(found) >= 2 for runner, found in majors.items()} == dict.fromkeys(
        ("pytest", "vitest", "jest", "node"), True
    )
