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
    r"^=*\s*((?:\d+ (?:passed|failed|skipped|errors?|xfailed|xpassed|warnings?|deselected)"
    r"(?:, )?)+)"
    r" in [\d.]+s\b.*$|^=*\s*no tests ran in [\d.]+s",
    re.MULTILINE,
)
_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")
_PYTEST_HEADER = re.compile(r"platform \S+ -- Python [\d.]+, pytest-([\d.]+\w*)")
_VITEST_TESTS = re.compile(r"^\s*Tests\s+(.+?)\s*\((\d+)\)\s*$", re.MULTILINE)
_VITEST_COUNT = re.compile(r"(\d+) (passed|failed|skipped|todo)")
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


def _pytest_summary(text: str) -> ConsoleSummary | None:
    matches = list(_PYTEST_SUMMARY.finditer(text))
    if not matches:
        return None
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for number, word in _PYTEST_COUNT.findall(matches[-1].group(0)):
        key = {"error": "errors", "xfailed": "skipped", "xpassed": "passed"}.get(word, word)
        counts[key] += int(number)
    return ConsoleSummary(found=True, **counts)


def _vitest_summary(text: str) -> ConsoleSummary | None:
    matches = list(_VITEST_TESTS.finditer(text))
    if not matches:
        return None
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for number, word in _VITEST_COUNT.findall(matches[-1].group(1)):
        counts["skipped" if word == "todo" else word] += int(number)
    return ConsoleSummary(found=True, errors=0, **counts)


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
    summary = _pytest_summary(text) or _vitest_summary(text) or ConsoleSummary()
    if runner is None and summary.found:
        runner = "pytest" if _PYTEST_SUMMARY.search(text) else "vitest"
    return ConsoleReading(
        summary,
        tuple(signatures),
        runner,
        version,
        pytest_tests(text) if runner == "pytest" else {},
    )
