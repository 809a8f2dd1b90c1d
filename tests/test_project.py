"""Finding the governed project: --project, else the nearest parent holding the config."""

import os
from pathlib import Path

import pytest

from sealguard.errors import ConfigError, UsageError
from sealguard.project import find_project

from .conftest import MakeTree


def test_found_from_a_nested_folder(make_project: MakeTree) -> None:
    project = make_project()
    nested = project.root / "src" / "lib"
    assert find_project(nested, None).root == project.root


def test_explicit_project_wins(make_project: MakeTree, tmp_path: Path) -> None:
    project = make_project()
    assert find_project(tmp_path, project.root).root == project.root


def test_not_found(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"no governance/sealguard.toml in .* or any parent; run `sealguard init`"
    ):
        find_project(tmp_path, None)


def test_explicit_project_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--project is not a directory"):
        find_project(tmp_path, tmp_path / "missing")


def test_cli_uses_the_working_directory(make_project: MakeTree, invoke) -> None:
    project = make_project()
    os.chdir(project.root / "src")
    assert invoke("seal").exit_code == 0
    assert invoke("verify").exit_code == 0
