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
