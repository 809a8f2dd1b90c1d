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


NEEDS_A_SEAL = [
    ("escalations test", "email"),
    ("escalations deliver",),
    ("escalations",),
    ("ack", "ESC_20260101_000000_00000000", "--by", "olga"),
    ("log show",),
    ("log export", "-o", "bundle"),
    ("versions",),
    ("incident list",),
    ("incident show", "INC_20260101_000000_00000000"),
    ("show", "RTE_20260101_000000_00000000"),
    ("decide", "RTE_20260101_000000_00000000", "investigate", "--reason", "x", "--payload-only"),
    ("propose",),
]


@pytest.mark.parametrize("args", NEEDS_A_SEAL, ids=lambda args: args[0])
def test_commands_that_need_a_seal_say_so_and_write_nothing(
    make_project: MakeTree, invoke, args: tuple[str, ...]
) -> None:
    """Issue 10 #1: `escalations test email` before `seal` started the log (exit 69), and then
    `seal` refused with exit 4 "already exists: this build was sealed before"; `escalations
    deliver`, `log show` and `versions` exited 0 saying nothing, `incident show` 70."""
    project = make_project()
    before = sorted(p for p in project.governance.rglob("*"))
    result = invoke("--project", str(project.root), *args[0].split(), *args[1:])
    assert (result.exit_code, result.stdout) == (64, "")
    assert result.stderr == (
        f"sealguard: `{args[0]}` needs a sealed project and nothing is sealed here yet; "
        "run `sealguard seal` first (nothing was written)\n"
    )
    assert sorted(p for p in project.governance.rglob("*")) == before
    assert not (project.root / "bundle").exists()


def test_the_log_is_started_by_seal_only(make_project: MakeTree) -> None:
    from sealguard import ledger
    from sealguard.config import load_config
    from sealguard.errors import UsageError

    project = make_project()
    with pytest.raises(UsageError, match="nothing is sealed here yet"):
        ledger.append(project.ledger(load_config(project.config_file)), "escalation_test", {})
    assert not project.runtime.exists()
