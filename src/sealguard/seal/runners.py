"""The test runners a project uses, as `init` finds them, and the probe each one gets.

Each proposal is a probe that sealguard can read: pytest with a JUnit XML report, vitest and
jest with their JSON report (one reader: `vitest-json`), `node --test` with its junit reporter
(sealguard reads JUnit XML, not TAP) and the spec reporter on the console for its summary, and
an `npm test` script nothing else explains, read as text. Pure over the files' contents.
"""

import configparser
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TIMEOUT = "10m"
NO_NPM_TEST = "no test specified"  # npm init's placeholder script
_NODE_TEST = re.compile(r"\bnode\s+--test\b")
_JEST = re.compile(r"(?<![\w-])jest(?![\w-])")
_NODE_REPORTERS = (
    "--test-reporter=spec --test-reporter-destination=stdout "
    "--test-reporter=junit --test-reporter-destination={report}"
)


@dataclass(frozen=True)
class Proposal:
    """A probe for one runner: its name, where the runner was found, and its TOML stanza."""

    runner: str
    found_in: str
    stanza: str


def _stanza(name: str, command: list[str] | str, report: str, version: list[str] | None) -> str:
    """A `[[probe]]` table; JSON strings and arrays of strings are TOML too."""
    lines = ["[[probe]]", f"name = {json.dumps(name)}", f"command = {json.dumps(command)}"]
    if isinstance(command, str):
        lines.append("shell = true")
    lines += [f"report = {json.dumps(report)}", f"timeout = {json.dumps(TIMEOUT)}"]
    if version is not None:
        lines.append(f"version = {json.dumps(version)}")
    return "\n".join(lines) + "\n"


def _read(root: Path, name: str) -> str | None:
    try:
        return (root / name).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _ini_has(text: str | None, section: str) -> bool:
    if text is None:
        return False
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return False
    return parser.has_section(section)


def _pyproject_pytest(text: str | None) -> str | None:
    try:
        tool = tomllib.loads(text or "").get("tool", {})
    except tomllib.TOMLDecodeError:
        return None
    if isinstance(tool, dict) and isinstance(tool.get("pytest"), dict):
        return "[tool.pytest.ini_options]" if "ini_options" in tool["pytest"] else "[tool.pytest]"
    return None


def _has_test_modules(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    return any(folder.rglob("test_*.py")) or any(folder.rglob("*_test.py"))


def pytest_source(root: Path) -> str | None:
    """Where the project says it uses pytest, or None."""
    if section := _pyproject_pytest(_read(root, "pyproject.toml")):
        return f"pyproject.toml {section}"
    if _ini_has(_read(root, "setup.cfg"), "tool:pytest"):
        return "setup.cfg [tool:pytest]"
    if _ini_has(_read(root, "tox.ini"), "pytest"):
        return "tox.ini [pytest]"
    if (root / "pytest.ini").is_file():
        return "pytest.ini"
    for folder in ("tests", "test"):
        if _has_test_modules(root / folder):
            return f"{folder}/ holds test_*.py"
    return None


def _python(root: Path) -> str:
    """The project's virtual environment's python when it has one, else python3 on PATH."""
    for venv in (".venv", "venv"):
        if (root / venv / "bin" / "python").exists():
            return f"{venv}/bin/python"
    return "python3"


def _pytest(root: Path) -> Proposal | None:
    if (source := pytest_source(root)) is None:
        return None
    python = _python(root)
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml={report}"]
    version = [python, "-m", "pytest", "--version"]
    return Proposal("pytest", source, _stanza("pytest", command, "junit-xml", version))


def _package(root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(_read(root, "package.json") or "null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _node_test(script: str) -> str:
    """The test script with the reporters sealguard reads; tools the script names (c8, …)
    come from node_modules/.bin, as under `npm test`."""
    command = _NODE_TEST.sub(lambda m: f"{m[0]} {_NODE_REPORTERS}", script, count=1)
    try:
        first = shlex.split(command)[0]
    except ValueError:  # unbalanced quotes: the shell will say so at `seal`
        first = ""
    if first == "node":
        return command
    return f'PATH="$PWD/node_modules/.bin:$PATH" {command}'


def _node(root: Path) -> list[Proposal]:
    package = _package(root)
    if package is None:
        return []
    deps: set[str] = set()
    for key in ("dependencies", "devDependencies"):
        if isinstance(package.get(key), dict):
            deps |= set(package[key])
    scripts = package.get("scripts")
    script = scripts.get("test") if isinstance(scripts, dict) else None
    script = script if isinstance(script, str) and NO_NPM_TEST not in script else ""
    found: list[Proposal] = []
    if "vitest" in deps or "vitest" in script:
        command = ["npx", "--no-install", "vitest", "run", "--reporter=default",
                   "--reporter=json", "--outputFile.json={report}"]  # fmt: skip
        version = ["npx", "--no-install", "vitest", "--version"]
        stanza = _stanza("vitest", command, "vitest-json", version)
        found.append(Proposal("vitest", "package.json", stanza))
    if "jest" in deps or _JEST.search(script):
        command = ["npx", "--no-install", "jest", "--ci", "--json", "--outputFile={report}"]
        version = ["npx", "--no-install", "jest", "--version"]
        stanza = _stanza("jest", command, "vitest-json", version)
        found.append(Proposal("jest", "package.json", stanza))
    if _NODE_TEST.search(script):
        stanza = _stanza("node-test", _node_test(script), "junit-xml", ["node", "--version"])
        found.append(Proposal("node --test", "package.json scripts.test", stanza))
    if script and not found:
        stanza = _stanza("npm-test", ["npm", "test", "--silent"], "text", ["npm", "--version"])
        found.append(Proposal("npm test", "package.json scripts.test", stanza))
    return found


def proposals(root: Path) -> list[Proposal]:
    """A probe for every runner the project at `root` uses, in a stable order."""
    python = _pytest(root)
    return ([python] if python else []) + _node(root)
