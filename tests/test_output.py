"""What the terminal shows is what the file says (E18): no output of sealguard lets data move
the cursor, reset or retitle the terminal, write the clipboard, reorder text, or forge a line."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sealguard import output
from sealguard.config import load_config
from sealguard.project import Project
from sealguard.seal.sealing import seal

from .conftest import write_tree

# terminal reset, an OSC 52 clipboard write, a bidi override, and C1 CSI / NEL
EVIL = "\x1bc\x1b]52;c;ZXZpbA==\x07\u202eevil\u202c\u2066x\u2069\x9b31m\x85"
FORGED = "\n\nINTACT: all good "
# anything but newline and tab that a terminal acts on or that reorders text
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
EMIT = f"""\
import json, pathlib, sys
evil = pathlib.Path("data/evil").exists()
EVIL = {EVIL!r}
if sys.argv[1] == "console":
    sys.stdout.write("hello\\n" + (EVIL + {FORGED!r} + "\\n" if evil else ""))
else:
    tests = [{{"fullName": "adds", "status": "failed" if evil else "passed"}}]
    if evil:
        tests.append({{"fullName": {FORGED!r} + EVIL, "status": "passed"}})
    suite = {{"name": "t", "status": "passed", "assertionResults": tests}}
    report = {{"success": not evil, "testResults": [suite]}}
    pathlib.Path(sys.argv[2]).write_text(json.dumps(report))
"""


def _config() -> str:
    python = json.dumps(sys.executable)
    return (
        '[seal]\npaths = ["src/**"]\n\n'
        f'[[probe]]\nname = "console"\ncommand = [{python}, "emit.py", "console"]\n'
        'report = "text"\nnormalize = []\n\n'
        f'[[probe]]\nname = "report"\ncommand = [{python}, "emit.py", "report", "{{report}}"]\n'
        'report = "vitest-json"\n'
    )


@pytest.fixture
def drifted(tmp_path: Path) -> tuple[Project, str]:
    """A sealed project whose probes then print and report hostile text: PRODUCT_DRIFT."""
    root = tmp_path / "evil"
    write_tree(
        root,
        {"src/app.py": "x = 1\n", "emit.py": EMIT, "governance/sealguard.toml": _config()},
    )
    project = Project(root)
    seal(project, load_config(project.config_file), jobs=1)
    (root / "data").mkdir()
    (root / "data" / "evil").write_text("")
    done = subprocess.run(
        [_script(), "--project", str(root), "observe", "--json"],
        capture_output=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    return project, json.loads(done.stdout)["event_id"]


def _script() -> str:
    return str(Path(sys.executable).parent / "sealguard")


def _assert_safe(text: str) -> None:
    assert not UNSAFE.search(text), UNSAFE.findall(text)
    assert not any(line.startswith("INTACT") for line in text.splitlines())


def test_every_human_output_escapes_what_the_probe_printed(
    drifted: tuple[Project, str], invoke
) -> None:
    project, event_id = drifted
    root = str(project.root)
    shown = {
        args: invoke("--project", root, *args)
        for args in [
            ("diff", event_id),
            ("show", event_id),
            ("diagnose", event_id),
            ("status",),
            ("log", "show"),
            ("escalations",),
            ("observe",),
            ("watch", "--every", "0s", "--count", "1"),
        ]
    }
    for args, result in shown.items():
        expected = {"observe": 4, "watch": 2}.get(args[0], 0)  # refused; ended while FROZEN
        assert result.exit_code == expected, (args, result.output)
        _assert_safe(result.stdout_bytes.decode("utf-8"))
        _assert_safe(result.stderr_bytes.decode("utf-8"))
    diff = shown[("diff", event_id)].output
    assert "+\\x1Bc\\x1B]52;c;ZXZpbA==\\x07\\xE2\\x80\\xAEevil" in diff
    assert "t > \\n\\nINTACT: all good \\x1Bc" in diff  # the test's name, on its own line
    assert "t > \\n\\nINTACT: all good \\x1Bc" in shown[("show", event_id)].output


def test_json_outputs_are_neither_raw_nor_double_escaped(
    drifted: tuple[Project, str], invoke
) -> None:
    project, event_id = drifted
    result = invoke("--project", str(project.root), "show", event_id, "--json")
    text = result.stdout_bytes.decode("utf-8")
    assert not UNSAFE.search(text.replace("\n", ""))
    changes = json.loads(text)["probes"][1]["status_changes"]
    assert "t > " + FORGED + EVIL in [c["test"] for c in changes]  # the exact name, once decoded


def test_the_console_script_shows_the_diff_escaped(drifted: tuple[Project, str]) -> None:
    project, event_id = drifted
    done = subprocess.run(
        [_script(), "--project", str(project.root), "diff", event_id],
        capture_output=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert b"\x1b" not in done.stdout and b"\x07" not in done.stdout
    _assert_safe(done.stdout.decode("utf-8"))


def test_the_console_script_shows_a_forged_file_name_on_one_line(tmp_path: Path) -> None:
    root = tmp_path / "names"
    write_tree(root, {"src/app.py": "x = 1\n", "governance/sealguard.toml": '[seal]\npaths = ["src/**"]\nfiles_only = true\n'})  # fmt: skip
    assert subprocess.run([_script(), "--project", str(root), "seal"], check=False).returncode == 0
    with open(os.fsencode(root / "src") + os.fsencode(f"/{FORGED}{EVIL}") + b"\xff", "w") as stream:
        stream.write("dropped in")
    done = subprocess.run(
        [_script(), "--project", str(root), "verify"], capture_output=True, check=False
    )
    assert done.returncode == 3
    text = done.stdout.decode("utf-8")
    _assert_safe(text)
    assert "  src/\\n\\nINTACT: all good \\x1Bc\\x1B]52;c;ZXZpbA==\\x07" in text


def test_write_keeps_lines_and_tabs_and_escapes_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output.write("a\tb\nc" + EVIL)
    output.error("one\nline" + EVIL)
    captured = capsys.readouterr()
    assert captured.out == "a\tb\nc\\x1Bc\\x1B]52;c;ZXZpbA==\\x07\\xE2\\x80\\xAEevil" + (
        "\\xE2\\x80\\xAC\\xE2\\x81\\xA6x\\xE2\\x81\\xA9\\xC2\\x9B31m\\xC2\\x85\n"
    )
    assert captured.err.count("\n") == 1 and captured.err.startswith("one\\nline\\x1Bc")


def test_write_json_escapes_controls_inside_strings_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = {"name": "é" + EVIL, "n": [1, None]}
    output.write_json(data)
    text = capsys.readouterr().out
    assert "é" in text and not UNSAFE.search(text.replace("\n", ""))
    assert json.loads(text) == data
