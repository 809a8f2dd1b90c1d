"""The CLI contract: exit codes, help, the README, the error boundary, the console script."""

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from sealguard.cli import cli
from sealguard.exitcodes import ExitCode
from sealguard.seal import verify as verify_module

from .conftest import MakeTree

README = Path(__file__).parent.parent / "README.md"


def test_exit_code_table_in_readme_matches_the_code() -> None:
    text = README.read_text()
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}
    assert documented == {int(code) for code in ExitCode}


def test_every_command_has_help_and_is_in_the_readme(invoke) -> None:
    text = README.read_text()
    assert isinstance(cli, click.Group)
    commands = [((name,), command) for name, command in cli.commands.items()]
    for path, command in commands:
        if isinstance(command, click.Group):
            commands += [((*path, sub), c) for sub, c in command.commands.items()]
    assert len(commands) > len(cli.commands)
    for path, command in commands:
        name = " ".join(path)
        assert command.help, f"{name} has no help text"
        assert f"`sealguard {name}" in text, f"{name} is not in the README"
        result = invoke(*path, "--help")
        assert result.exit_code == 0 and "Usage: sealguard" in result.output


def test_usage_error_exits_64_with_one_line(invoke) -> None:
    result = invoke("verify", "--no-such-option")
    assert result.exit_code == 64
    assert re.fullmatch(
        r"sealguard: No such option.*--no-such-option.* \(see: sealguard verify --help\)\n",
        result.stderr,
    )
    result = invoke("no-such-command")
    assert result.exit_code == 64


def test_unexpected_error_writes_traceback_file(
    make_project: MakeTree, invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project()
    invoke("--project", str(project.root), "seal")

    def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(verify_module, "parse_manifest", broken)
    result = invoke("--project", str(project.root), "verify")
    assert result.exit_code == 70
    match = re.fullmatch(
        r"sealguard: internal error: RuntimeError: disk on fire \(traceback in (\S+)\)\n",
        result.stderr,
    )
    assert match, result.stderr
    crash = Path(match.group(1))
    assert "Traceback" in crash.read_text() and "disk on fire" in crash.read_text()


def test_ctrl_c_exits_130(make_project: MakeTree, invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project()
    invoke("--project", str(project.root), "seal")

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(verify_module, "parse_manifest", interrupted)
    result = invoke("--project", str(project.root), "verify")
    assert result.exit_code == 130
    assert result.stderr.strip() == "sealguard: interrupted"  # click ends the ^C line first


def test_version(invoke) -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.output.startswith("sealguard, version ")


def _script() -> str:
    script = Path(sys.executable).parent / "sealguard"
    assert script.exists(), "the console script is installed with the package"
    return str(script)


def test_installed_console_script_round_trip(make_project: MakeTree) -> None:
    project = make_project()
    env = {**os.environ, "COVERAGE_PROCESS_START": ""}
    done = subprocess.run(
        [_script(), "seal"], cwd=project.root, capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    (project.root / "src/app.py").write_text("tampered\n")
    done = subprocess.run(
        [_script(), "verify"], cwd=project.root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 3
    assert "modified:\n  src/app.py  content changed" in done.stdout
    done = subprocess.run(
        [_script(), "verify", "--bogus"],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 64 and done.stderr.count("\n") == 1


def test_python_dash_m(make_project: MakeTree) -> None:
    project = make_project()
    done = subprocess.run(
        [sys.executable, "-m", "sealguard", "--project", str(project.root), "verify"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 64
    assert "not sealed yet" in done.stderr and "Traceback" not in done.stderr


def test_real_sigint_exits_130_without_traceback(tmp_path: Path) -> None:
    """A real Ctrl-C (SIGINT) while the demo runs, through the installed script."""
    code = (
        "import os, signal, sealguard.demo as d\n"
        # as at a terminal: a job started in the background by a script inherits SIGINT ignored
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "real = d._walk\n"
        "def walk(scratch, say):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(scratch, say)\n"
        "d._walk = walk\n"
        "from sealguard.cli import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "demo"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 130
    assert done.stderr.strip() == "sealguard: interrupted"


def _leaf_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command a user can run, with the words that name it."""
    found: list[tuple[tuple[str, ...], click.Command]] = []
    pending: list[tuple[tuple[str, ...], click.Command]] = [((), cli)]
    while pending:
        path, command = pending.pop()
        if path:
            found.append((path, command))
        if isinstance(command, click.Group):
            pending += [((*path, name), sub) for name, sub in command.commands.items()]
    return found


def test_every_command_takes_project_after_its_name(invoke, tmp_path: Path) -> None:
    """The README says every command takes --project DIR: after the command's name too."""
    for path, _ in _leaf_commands():
        result = invoke(*path, "--project", str(tmp_path), "--help")
        assert result.exit_code == 0, f"{' '.join(path)}: {result.stderr}"
        assert "--project DIRECTORY" in result.output, " ".join(path)


def test_project_after_the_command_is_the_project(make_project: MakeTree, invoke) -> None:
    project = make_project()
    assert invoke("seal", "--project", str(project.root)).exit_code == 0
    assert project.log_file.is_file()
    result = invoke("verify", "--project", str(project.root))
    assert result.exit_code == 0, result.stderr
    result = invoke("log", "show", "--project", str(project.root), "--type", "baseline_sealed")
    assert result.exit_code == 0 and " baseline_sealed " in result.output
    # given twice, the same folder: no conflict, however it is spelled
    same = str(project.root / "src" / "..")
    result = invoke("--project", str(project.root), "log", "--project", same, "verify")
    assert result.exit_code == 0, result.stderr


def test_two_different_projects_are_a_usage_error(make_project: MakeTree, invoke) -> None:
    one, two = make_project(name="one"), make_project(name="two")
    result = invoke("--project", str(one.root), "seal", "--project", str(two.root))
    assert result.exit_code == 64
    assert result.stderr.startswith("sealguard: --project given twice: ")
    assert str(one.root) in result.stderr and str(two.root) in result.stderr
    assert result.stderr.count("\n") == 1
    assert not one.log_file.exists() and not two.log_file.exists()


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_missing_project_folder_is_a_usage_error(invoke, tmp_path: Path, where: str) -> None:
    missing = str(tmp_path / "nonexistent")
    args = (
        ["--project", missing, "status"] if where == "before" else ["status", "--project", missing]
    )
    result = invoke(*args)
    assert result.exit_code == 64, result.stderr
    assert "nonexistent" in result.stderr and "does not exist" in result.stderr
    assert result.stderr.count("\n") == 1
