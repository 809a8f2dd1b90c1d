"""What a runner's console says: its summary, its version, and recognised signatures. Pure.

Signatures are the tooling failures the classifier knows (npm error codes, a missing runner, a
vitest startup error, a traceback inside the runner's own packages, permission denied on a
tool's file) and the product crashes it must not mistake for them (an unhandled error, a
traceback through the product's own code).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sealguard.facts import ConsoleSummary

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_PYTEST_SUMMARY = re.compile(
    r"^=*\s*((?:\d+ (?:subtests )?"
    r"(?:passed|failed|skipped|errors?|xfailed|xpassed|warnings?|deselected)(?:, )?)+)"
    r" in [\d.]+s\b.*$|^=*\s*no tests ran in [\d.]+s",
    re.MULTILINE,
)
_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")
_PYTEST_HEADER = re.compile(r"platform \S+ -- Python [\d.]+, pytest-([\d.]+\w*)")
_VITEST_TESTS = re.compile(r"^\s*Tests\s+(.+?)\s*\((\d+)\)\s*$", re.MULTILINE)
_VITEST_COUNT = re.compile(r"(\d+) (passed|failed|skipped|todo)")
_VITEST_FAIL = re.compile(r"^\s*FAIL\s+(\S.*? > .+?)\s*$", re.MULTILINE)
_JEST_TESTS = re.compile(r"^Tests:\s+(.+?),\s+(\d+) total\s*$", re.MULTILINE)
# `● Console` heads what tests logged, not a failure
_JEST_FAIL = re.compile(r"^  ● (?!Test suite failed to run|Console\s*$)(.+?)\s*$", re.MULTILINE)
# node --test: its spec reporter (`ℹ tests 78`) and its TAP reporter (`# tests 78`)
_NODE_COUNT = re.compile(r"^[ℹ#] (tests|pass|fail|cancelled|skipped|todo) (\d+)\s*$", re.MULTILINE)
_NODE_FAILING = re.compile(r"^✖ failing tests:\s*$", re.MULTILINE)
_NODE_SPEC_FAIL = re.compile(r"^\s*✖ (.+?)(?: \([\d.]+m?s\))?\s*$", re.MULTILINE)
_NODE_TAP_FAIL = re.compile(
    r"^\s*not ok \d+ - (.+?)(?: # .*)?\n(?:(?!\s*\.\.\.\s*$).*\n)*?\s*failureType: '(\w+)'",
    re.MULTILINE,
)
_VITEST_HEADER = re.compile(r"\b(?:RUN|DEV)\s+v(\d+\.\d+\.\d+\S*)")
_NPM_CODE = re.compile(r"npm (?:error|ERR!) code (EINTEGRITY|ENOTCACHED|EACCES|ENOSPC|ERESOLVE)\b")
_TOOL_PATH = (
    r"(?:node_modules|site-packages|dist-packages|/\.npm\b|/\.cache/|\.pytest_cache|/\.venv/|/bin/)"
)
_PERMISSION = re.compile(
    rf"(?:EACCES|EPERM|Permission denied|PermissionError)[^\n]*{_TOOL_PATH}"
    rf"|{_TOOL_PATH}[^\n]*(?:EACCES|Permission denied)"
)
_SIMPLE = {
    "npx-missing-packages": re.compile(r"npx canceled due to missing packages"),
    "no-module-pytest": re.compile(r"No module named '?pytest'?"),
    "command-not-found": re.compile(r"(?:command not found|: not found)\s*$", re.MULTILINE),
    "vitest-startup-error": re.compile(r"Startup Error"),
    "unhandled-error": re.compile(r"Unhandled (?:Errors?|Rejection)"),
}
_CAUSE = re.compile(
    r"^.*(?:command not found|: not found|No module named '?pytest'?)\s*$", re.MULTILINE
)
_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+', re.MULTILINE)
_RUNNER_PACKAGES = re.compile(
    r"[/\\](?:site-packages|dist-packages|lib/python[\d.]+)[/\\]|[/\\](?:_pytest|pluggy)[/\\]"
)


@dataclass(frozen=True)
class ConsoleReading:
    summary: ConsoleSummary
    signatures: tuple[str, ...]
    runner: str | None
    tool_version: str | None
    tests: dict[str, str]  # per-test statuses printed by pytest -v / -rA
    cause: str = ""  # the line saying what was not found, when one does


def _once(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _pytest_summary(text: str) -> ConsoleSummary | None:
    matches = list(_PYTEST_SUMMARY.finditer(text))
    if not matches:
        return None
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    # "21194 subtests passed" is not a count of tests: `(\d+) passed` does not match it
    for number, word in _PYTEST_COUNT.findall(matches[-1].group(0)):
        key = {"error": "errors", "xfailed": "skipped", "xpassed": "passed"}.get(word, word)
        counts[key] += int(number)
    failing = [n for n, status in pytest_tests(text).items() if status in ("failed", "error")]
    return ConsoleSummary(found=True, failing=_once(failing), **counts)


def _counts(text: str) -> dict[str, int]:
    """`1 failed | 2 passed | 1 todo` or `1 failed, 1 skipped, 2 passed` (vitest, jest)."""
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for number, word in _VITEST_COUNT.findall(text):
        counts["skipped" if word == "todo" else word] += int(number)
    return counts


def _vitest_summary(text: str) -> ConsoleSummary | None:
    matches = list(_VITEST_TESTS.finditer(text))
    if not matches:
        return None
    failing = _once(_VITEST_FAIL.findall(text))
    return ConsoleSummary(found=True, errors=0, failing=failing, **_counts(matches[-1].group(1)))


def _jest_summary(text: str) -> ConsoleSummary | None:
    matches = list(_JEST_TESTS.finditer(text))
    if not matches:
        return None
    failing = _once(_JEST_FAIL.findall(text))
    return ConsoleSummary(found=True, errors=0, failing=failing, **_counts(matches[-1].group(1)))


def _node_failing(text: str) -> tuple[str, ...]:
    """The spec reporter's `✖ failing tests:` list, or the TAP reporter's `not ok` tests (not
    the suites failing because of them)."""
    if section := list(_NODE_FAILING.finditer(text)):
        return _once(_NODE_SPEC_FAIL.findall(text, section[-1].end()))
    return _once(n for n, kind in _NODE_TAP_FAIL.findall(text) if kind != "subtestsFailed")


def _node_summary(text: str) -> ConsoleSummary | None:
    counts = dict(_NODE_COUNT.findall(text))  # the last of each wins
    if "tests" not in counts or "pass" not in counts:
        return None
    number = {k: int(v) for k, v in counts.items()}
    return ConsoleSummary(
        found=True,
        passed=number["pass"],
        failed=number.get("fail", 0) + number.get("cancelled", 0),
        skipped=number.get("skipped", 0) + number.get("todo", 0),
        failing=_node_failing(text),
    )


SUMMARIES = (
    ("pytest", _pytest_summary),
    ("vitest", _vitest_summary),
    ("jest", _jest_summary),
    ("node", _node_summary),
)


def _summary(text: str) -> tuple[str | None, ConsoleSummary]:
    """The runner whose summary the console ends with, and what it says."""
    for runner, read in SUMMARIES:
        if summary := read(text):
            return runner, summary
    return None, ConsoleSummary()


_PYTEST_VERBOSE = re.compile(
    r"^(\S+::\S+(?:\[[^\]]*\])?) (PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)\b", re.MULTILINE
)
_PYTEST_SHORT = re.compile(
    r"^(PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS) (\S+::\S+(?:\[[^\]]*\])?)", re.MULTILINE
)
_STATUS = {
    "PASSED": "passed",
    "FAILED": "failed",
    "SKIPPED": "skipped",
    "ERROR": "error",
    "XFAIL": "skipped",
    "XPASS": "passed",
}


def pytest_tests(text: str) -> dict[str, str]:
    """Per-test statuses from pytest's verbose lines or its -rA short summary."""
    found = {name: _STATUS[status] for name, status in _PYTEST_VERBOSE.findall(text)}
    found.update({name: _STATUS[status] for status, name in _PYTEST_SHORT.findall(text)})
    return found


def pytest_tests_by_line(lines: Iterable[str]) -> dict[str, str]:
    """The same, read one line at a time: for a console too large to hold whole."""
    found: dict[str, str] = {}
    for line in lines:
        found.update(pytest_tests(_ANSI.sub("", line)))
    return found


def _tracebacks(text: str, root: str) -> list[str]:
    # frames of the interpreter itself ("<frozen runpy>") take no side
    frames = [f for f in _FRAME.findall(text) if not f.startswith("<")]
    if not frames:
        return []
    product = [
        f for f in frames if f.startswith(root) and not _RUNNER_PACKAGES.search(f[len(root) :])
    ]
    if product:
        return ["traceback-in-product"]
    return ["traceback-in-runner"] if all(_RUNNER_PACKAGES.search(f) for f in frames) else []


def read_console(raw: str, root: str) -> ConsoleReading:
    """Read a probe's console (stdout and stderr together); `root` is the project root."""
    text = _ANSI.sub("", raw)
    signatures = [f"npm:{code}" for code in sorted(set(_NPM_CODE.findall(text)))]
    signatures += [name for name, pattern in _SIMPLE.items() if pattern.search(text)]
    signatures += ["permission-denied-tool"] if _PERMISSION.search(text) else []
    signatures += _tracebacks(text, root)
    runner, version = None, None
    if header := _PYTEST_HEADER.search(text):
        runner, version = "pytest", header.group(1)
    elif header := _VITEST_HEADER.search(text):
        runner, version = "vitest", header.group(1)
    elif re.search(r"^npm (?:error|ERR!)", text, re.MULTILINE):
        runner = "npm"
    summarised, summary = _summary(text)
    runner = runner or summarised
    return ConsoleReading(
        summary,
        tuple(signatures),
        runner,
        version,
        pytest_tests(text) if runner == "pytest" else {},
        cause.group(0).strip()[:200] if (cause := _CAUSE.search(text)) else "",
    )
