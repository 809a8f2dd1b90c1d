"""Small governed projects with real test runners, made by the tests themselves."""

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

from sealguard.config import load_config
from sealguard.project import Project
from sealguard.seal.sealing import seal

from .conftest import write_tree

CALC = """\
import json
import pathlib
import time

DATA = pathlib.Path(__file__).resolve().parents[2] / "data" / "table.json"


def settings():
    return json.loads(DATA.read_text()) if DATA.exists() else {}


def add(a, b):
    s = settings()
    if s.get("hang"):
        time.sleep(60)
    if s.get("write"):
        (DATA.parents[1] / s["write"]).write_text("written by the product at run time")
    return a + b + s.get("offset", 0)
"""
TESTS = """\
import sys, pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "src"))
from calc import add


def test_add():
    assert add(1, 2) == 3


def test_zero():
    assert add(0, 0) == 0


def test_negative():
    assert add(-1, 1) == 0
"""


def make_tool_python(root: Path) -> Path:
    """A separate Python (a venv outside the sealed paths) that sees pytest through a .pth file,
    so the tests can uninstall the runner the way it happens: the package vanishes."""
    tool = root / "tool"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tool)], check=True)
    site = next((tool / "lib").glob("python3*/site-packages"))
    (site / "runner.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return tool / "bin" / "python"


def pytest_project(
    base: Path,
    timeout: str = "30s",
    name: str = "pyproject",
    extra: dict[str, str | bytes] | None = None,
) -> Project:
    """A sealed pytest project; `extra` files (more tests) are sealed with it."""
    root = base / name
    write_tree(
        root,
        {"src/calc/__init__.py": CALC, "tests/test_calc.py": TESTS, "data/README": "runtime data"},
    )
    write_tree(root, extra or {})
    python = make_tool_python(root)
    command = [
        str(python),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--junitxml={report}",
        "tests",
    ]
    config = (
        '[seal]\npaths = ["src/**", "tests/**"]\nexclude = ["**/__pycache__/**"]\n\n'
        f'[[probe]]\nname = "unit"\ncommand = {json.dumps(command)}\nreport = "junit-xml"\ntimeout = "{timeout}"\n'
    )
    write_tree(root, {"governance/sealguard.toml": config})
    project = Project(root)
    seal(project, load_config(project.config_file), jobs=1)
    return project


def set_data(project: Project, **settings: object) -> None:
    (project.root / "data" / "table.json").write_text(json.dumps(settings))


def cat_project(
    base: Path,
    name: str = "catproject",
    script: str = 'sleep "$(cat data/delay)"',
    extra: str = "",
) -> Project:
    project = unsealed_cat_project(base, name, script, extra)
    seal(project, load_config(project.config_file), jobs=1)
    return project


def unsealed_cat_project(
    base: Path,
    name: str = "catproject",
    script: str = 'sleep "$(cat data/delay)"',
    extra: str = "",
) -> Project:
    """A sealed project whose one probe prints a data file outside the sealed paths: instant,
    and a changed data file is a PRODUCT_DRIFT (snapshot, event, export, escalation);
    `data/delay` holds the seconds it sleeps first; `script` runs before the `cat`."""
    root = base / name
    write_tree(
        root, {"src/app.py": "print('app')\n", "data/value.txt": "42\n", "data/delay": "0\n"}
    )
    command = ["sh", "-c", f"{script}; cat data/value.txt"]
    config = (
        '[seal]\npaths = ["src/**"]\n\n'
        f'[[probe]]\nname = "value"\ncommand = {json.dumps(command)}\nreport = "text"\n'
        'timeout = "20s"\n' + extra
    )
    write_tree(root, {"governance/sealguard.toml": config})
    return Project(root)
