"""Shared fixtures: real files in tmp_path, and a guard against writing anywhere else."""

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

from sealguard.cli import cli
from sealguard.project import Project

from .browser import browser_page, chromium  # noqa: F401 (fixtures for the browser tests)
from .fleet_db import fleet_url  # noqa: F401 (a fresh fleet database, for every fleet test)
from .netns import netns  # noqa: F401 (a host of its own on a veth pair, for the fleet's fault tests)
from .postgres import (  # noqa: F401 (the run's own PostgreSQL and a database per test)
    pg_admin_url,
    pg_database,
    pg_server,
    restart_server,
)

if TYPE_CHECKING:
    from .decision_projects import Team

settings.register_profile("sealguard", database=None, deadline=None)
settings.load_profile("sealguard")

_ALLOWED: list[str] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _guard_writes(event: str, args: tuple[object, ...]) -> None:
    """Fail any open-for-writing outside the running test's folder."""
    if not _ALLOWED or event != "open" or not isinstance(args[0], str | bytes | os.PathLike):
        return
    mode, flags = args[1], args[2]
    writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
        isinstance(flags, int) and flags & _WRITE_FLAGS
    )
    if not writing:
        return
    path = os.path.abspath(os.fsdecode(args[0]))  # type: ignore[arg-type]
    if (
        path == os.devnull
        or path.startswith("/dev/shm/")
        or any(path.startswith(r) for r in _ALLOWED)
    ):
        return
    raise PermissionError(f"test wrote outside its folder: {path}")


sys.addaudithook(_guard_writes)


@pytest.fixture(autouse=True)
def only_write_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test runs in its own folder, with HOME and TMPDIR inside it."""
    home, temp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    monkeypatch.chdir(tmp_path)
    _ALLOWED[:] = [str(tmp_path) + os.sep]
    yield
    _ALLOWED.clear()


MakeTree = Callable[..., Project]


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


DEFAULT_FILES: dict[str, str | bytes] = {
    "src/app.py": "print('hello')\n",
    "src/lib/util.py": "def f():\n    return 1\n",
    "tests/test_app.py": "def test():\n    assert True\n",
    "package.json": '{"name": "demo"}\n',
    "README.md": "not sealed\n",
}
DEFAULT_CONFIG = (
    '[seal]\npaths = ["src/**", "tests/**", "package.json"]\nexclude = ["**/__pycache__/**"]\n'
    "files_only = true\n"  # most tests seal files only; probe tests write their own
)


@pytest.fixture
def make_project(tmp_path: Path) -> MakeTree:
    """A governed project under tmp_path/project with the given files and config."""

    def make(
        files: dict[str, str | bytes] | None = None,
        config: str = DEFAULT_CONFIG,
        name: str = "project",
    ) -> Project:
        root = tmp_path / name
        root.mkdir()
        write_tree(root, DEFAULT_FILES if files is None else files)
        (root / "governance").mkdir()
        (root / "governance" / "sealguard.toml").write_text(config)
        return Project(root)

    return make


@pytest.fixture
def invoke() -> Callable[..., Result]:
    """Run the CLI in-process, like a user at a shell, and return its Result."""

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> "Team":
    """Real ssh-keygen keys: Alice and Bob architects, Olga operator, Mallory nobody."""
    from .decision_projects import make_team

    return make_team(tmp_path_factory.mktemp("keys"))
