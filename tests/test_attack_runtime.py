"""Adversarial rounds (issue 8 review, A1): hiding places in governance/runtime."""

import subprocess
import sys
from pathlib import Path

import pytest

from .probe_projects import cat_project


def _verify(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sealguard", "verify"], cwd=root, capture_output=True, text=True,
        check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "name", [".checkpoint.tmp-evil", ".GOVERNANCE_LOG.ndjson.tmp-", "keys/..gitignore.tmp-x1"]
)
def test_a_file_named_like_a_ledger_temp_but_not_one_is_foreign(tmp_path: Path, name: str) -> None:
    """The ledger's temps are `.<name>.tmp-<pid>`; any other name is not a write of sealguard."""
    project = cat_project(tmp_path)
    (project.runtime / name).write_text("a payload kept where no check looks\n")
    verified = _verify(project.root)
    assert verified.returncode == 3, verified.stdout + verified.stderr
    assert "not written by sealguard" in verified.stdout


def test_a_real_ledger_temp_is_still_explained(tmp_path: Path) -> None:
    project = cat_project(tmp_path)
    (project.runtime / ".checkpoint.tmp-4242").write_text("a checkpoint cut by a crash\n")
    verified = _verify(project.root)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_temp_name_of_an_announced_file_needs_a_pid(tmp_path: Path) -> None:
    """After a crash, the announced paths and their `.name.tmp-<pid>` temps are explained;
    `.name.tmp-PAYLOAD` is no temp sealguard writes, so it stays foreign (the leftovers event
    must not adopt it)."""
    from sealguard import ledger, runtime
    from sealguard.seal.settings import config_in_force

    project = cat_project(tmp_path)
    led = project.ledger(config_in_force(project))
    target = led.folder / "snapshots" / "SNP_x" / "diff.txt"
    runtime.announce(led, [target])  # then the observer died: nothing written, nothing recorded
    target.parent.mkdir(parents=True)
    (target.parent / ".diff.txt.tmp-31337").write_text("half a diff\n")
    (target.parent / ".diff.txt.tmp-PAYLOAD").write_text("planted\n")
    verified = _verify(project.root)
    assert verified.returncode == 3
    assert ".diff.txt.tmp-PAYLOAD" in verified.stdout
    assert ".diff.txt.tmp-31337" not in verified.stdout
    runtime.account_leftovers(led)
    (event,) = [e for e in ledger.read_events(led.log) if e["type"] == runtime.LEFTOVERS]
    assert [f["path"] for f in event["files"]] == ["snapshots/SNP_x/.diff.txt.tmp-31337"]
