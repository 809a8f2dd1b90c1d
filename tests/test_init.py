"""init: a starter config that seals the tracked files, minus governance/ and caches."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.project import Project
from sealguard.seal.sealing import seal
from sealguard.seal.starter import compact_globs

from .conftest import write_tree


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_init_in_a_git_repository_seals_tracked_files(tmp_path: Path, invoke) -> None:
    root = tmp_path / "repo"
    write_tree(
        root,
        {
            "src/a.py": "a", "src/b.py": "b", "lib/x.py": "x", "lib/build.log": "untracked",
            "pyproject.toml": "", "notes.txt": "untracked", "node_modules/m/index.js": "",
            "src/__pycache__/a.pyc": "", ".gitignore": "",
        },
    )  # fmt: skip
    _git(root, "init", "-q")
    _git(root, "add", "src/a.py", "src/b.py", "lib/x.py", "pyproject.toml", ".gitignore")
    result = invoke("--project", str(root), "init")
    assert result.exit_code == 0, result.output
    file = root / "governance/sealguard.toml"  # no test runner here: a files-only seal
    file.write_text(file.read_text().replace("# files_only = true", "files_only = true"))
    config = load_config(file)
    assert config.seal.paths == [".gitignore", "lib/x.py", "pyproject.toml", "src/**"]
    assert "**/node_modules/**" in config.seal.exclude
    assert "seal 5 files today" in result.output
    report = seal(Project(root), config, jobs=1)
    assert report.files == 5


def test_init_without_git_seals_every_file_but_caches(tmp_path: Path, invoke) -> None:
    root = tmp_path / "plain"
    write_tree(root, {"a.txt": "", "d/e.txt": "", ".venv/bin/python": "", "d/.pytest_cache/x": ""})
    result = invoke("--project", str(root), "init")
    assert result.exit_code == 0
    assert load_config(root / "governance/sealguard.toml").seal.paths == ["a.txt", "d/**"]


def test_init_refuses_to_overwrite(tmp_path: Path, invoke) -> None:
    (tmp_path / "governance").mkdir()
    (tmp_path / "governance/sealguard.toml").write_text("# mine\n")
    result = invoke("--project", str(tmp_path), "init")
    assert result.exit_code == 4
    assert (
        result.stderr
        == "sealguard: governance/sealguard.toml already exists; init will not overwrite it\n"
    )
    assert (tmp_path / "governance/sealguard.toml").read_text() == "# mine\n"


def test_compact_globs_escape_wildcards_in_names() -> None:
    on_disk = {"a/[x].txt", "a/y.txt", "b/z"}
    assert compact_globs(on_disk, {"a/[x].txt", "b/z"}) == ["a/\\[x\\].txt", "b/**"]
    assert compact_globs(on_disk, on_disk) == ["a/**", "b/**"]


def _probes(root: Path) -> dict[str, object]:
    return {p.name: p for p in load_config(root / "governance/sealguard.toml").probe}


def test_init_proposes_a_pytest_probe_that_seals(tmp_path: Path, invoke) -> None:
    """Issue 10 #2: init wrote `[seal]` only; the seal then had no probe at all."""
    root = tmp_path / "lib"
    write_tree(
        root,
        {
            "pyproject.toml": '[project]\nname = "lib"\n\n[tool.pytest.ini_options]\n',
            "src/lib/__init__.py": "def one():\n    return 1\n",
            "tests/test_one.py": "def test_one():\n    assert 1 == 1\n",
            # a project venv whose python is the one running these tests
            ".venv/bin/python": f'#!/bin/sh\nexec "{sys.executable}" "$@"\n',
        },
    )
    (root / ".venv/bin/python").chmod(0o755)
    result = invoke("--project", str(root), "init")
    assert result.exit_code == 0, result.output
    assert "probes proposed: pytest (pyproject.toml [tool.pytest.ini_options])" in result.output
    probe = _probes(root)["pytest"]
    assert probe.report == "junit-xml" and probe.timeout == "10m"  # type: ignore[attr-defined]
    assert probe.command[:3] == [".venv/bin/python", "-m", "pytest"]  # type: ignore[attr-defined]
    assert "--junitxml={report}" in probe.command  # type: ignore[attr-defined]
    sealed = invoke("--project", str(root), "seal")
    assert sealed.exit_code == 0, sealed.output
    summary = json.loads((root / "governance/baseline/pytest/probe.json").read_text())
    assert summary["verdict"] == "PASS" and summary["test_count"] == 1


@pytest.mark.parametrize(
    ("files", "found"),
    [
        ({"setup.cfg": "[tool:pytest]\ntestpaths = t\n"}, "pytest (setup.cfg [tool:pytest])"),
        ({"tox.ini": "[pytest]\n"}, "pytest (tox.ini [pytest])"),
        ({"tests/test_x.py": ""}, "pytest (tests/ holds test_*.py)"),
    ],
)
def test_init_finds_pytest_where_it_is_configured(
    tmp_path: Path, invoke, files: dict[str, str], found: str
) -> None:
    write_tree(tmp_path / "p", files)
    result = invoke("--project", str(tmp_path / "p"), "init")
    assert f"probes proposed: {found}\n" in result.output
    assert _probes(tmp_path / "p")["pytest"].command[0] == "python3"  # type: ignore[attr-defined]


def _package(scripts: dict[str, str], dev: dict[str, str] | None = None) -> str:
    return json.dumps({"name": "m", "scripts": scripts, "devDependencies": dev or {}})


@pytest.mark.parametrize(
    ("package", "name", "report", "found"),
    [
        (_package({"test": "vitest run"}, {"vitest": "^3"}), "vitest", "vitest-json",
         "vitest (package.json)"),
        (_package({"test": "jest"}, {"jest": "^30"}), "jest", "vitest-json", "jest (package.json)"),
        (_package({"test": "c8 node --test test/"}), "node-test", "junit-xml",
         "node --test (package.json scripts.test)"),
        (_package({"test": "mocha"}), "npm-test", "text", "npm test (package.json scripts.test)"),
    ],
)  # fmt: skip
def test_init_proposes_node_runners(  # noqa: PLR0917 (the parameters of one case)
    tmp_path: Path, invoke, package: str, name: str, report: str, found: str
) -> None:
    write_tree(tmp_path / "m", {"package.json": package, "index.js": ""})
    result = invoke("--project", str(tmp_path / "m"), "init")
    assert result.exit_code == 0, result.output
    assert f"probes proposed: {found}\n" in result.output
    probes = _probes(tmp_path / "m")
    assert list(probes) == [name]
    assert probes[name].report == report and probes[name].timeout == "10m"  # type: ignore[attr-defined]


def test_node_test_probe_runs_with_a_junit_report(tmp_path: Path, invoke) -> None:
    from sealguard.probes.run import run_probe
    from sealguard.seal.behaviour import refuse_unsound

    root = tmp_path / "m"
    write_tree(
        root,
        {
            "package.json": _package({"test": "node --test"}),
            "a.test.js": "const t = require('node:test'); t('adds', () => {});\n",
        },
    )
    invoke("--project", str(root), "init")
    probe = _probes(root)["node-test"]
    work = tmp_path / "work"
    work.mkdir()
    evidence = run_probe(probe, root, work, None, frozenset())  # type: ignore[arg-type]
    refuse_unsound(evidence)  # what `seal` asks of a probe: it passes, its report reads
    assert evidence.facts.report_state == "ok"


def test_init_writes_commented_channels_matrix_and_authority_hint(tmp_path: Path, invoke) -> None:
    write_tree(tmp_path / "p", {"a.txt": ""})
    result = invoke("--project", str(tmp_path / "p"), "init")
    text = (tmp_path / "p/governance/sealguard.toml").read_text()
    for stanza in ("# [channels.email]", "# [channels.slack]", "# [escalation]",
                   "# files_only = true", "# [[probe]]", "governance/AUTHORITY.toml"):  # fmt: skip
        assert stanza in text, stanza
    assert not (tmp_path / "p/governance/AUTHORITY.toml").exists()
    assert "no test runner found" in result.output
    config = load_config(tmp_path / "p/governance/sealguard.toml")
    assert config.probe == [] and config.channels.configured() == []


@pytest.mark.parametrize(
    ("files", "runners"),
    [
        ({"pyproject.toml": "[tool", "setup.cfg": "[x", "package.json": "{"}, []),
        ({"pytest.ini": "[pytest]\n", "package.json": "[1]"}, ["pytest"]),
        ({"test/a_test.py": "", "package.json": '{"scripts": {"test": "x \'node --test"}}'},
         ["pytest", "node --test"]),
        ({"package.json": '{"scripts": {"test": "echo \\"Error: no test specified\\""}}'}, []),
    ],
)  # fmt: skip
def test_unreadable_or_unusual_project_files_only_change_what_is_found(
    tmp_path: Path, files: dict[str, str], runners: list[str]
) -> None:
    from sealguard.seal.runners import proposals

    write_tree(tmp_path / "p", files)
    assert [p.runner for p in proposals(tmp_path / "p")] == runners


def test_the_starters_schedule_and_silence_row_parse_once_uncommented(
    tmp_path: Path, invoke
) -> None:
    write_tree(tmp_path / "p", {"a.txt": ""})
    invoke("--project", str(tmp_path / "p"), "init")
    config_file = tmp_path / "p/governance/sealguard.toml"
    lines = config_file.read_text().splitlines()
    start = lines.index("# [channels.email]")
    end = next(i for i, line in enumerate(lines) if line.startswith("# grace"))
    for i in range(start, end + 1):  # the channels, the matrix and the schedule, as a user would
        if re.match(r"# (\[|[A-Za-z_]+ *=)", lines[i]):
            lines[i] = lines[i].removeprefix("# ")
    config_file.write_text("\n".join(lines) + "\n")
    config = load_config(config_file)
    assert config.schedule is not None and config.schedule.every_seconds == 900
    assert config.escalation.SILENCE.fallback == ["pagerduty"]
