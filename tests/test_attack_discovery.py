"""Adversarial round (issue 8 review, B13): deleting a sealed project's config must not make
sealguard observe another project, or none. The project is found by any of its sealguard files."""

import subprocess
import sys
from pathlib import Path

from .probe_projects import cat_project


def _sealguard(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sealguard", *args], cwd=cwd, capture_output=True, text=True,
        check=False,
    )  # fmt: skip


def test_a_deleted_config_inside_a_governed_parent_is_an_incident(tmp_path: Path) -> None:
    outer = cat_project(tmp_path, name="outer")
    inner = cat_project(outer.root, name="app")  # a governed folder inside a governed one
    assert _sealguard(inner.root, "observe").returncode == 0
    inner.config_file.unlink()
    (inner.root / "src" / "app.py").write_text("print('tampered')\n")
    observed = _sealguard(inner.root, "observe")
    assert observed.returncode == 3, observed.stdout + observed.stderr
    assert "INCIDENT" in observed.stdout
    verified = _sealguard(inner.root / "src", "verify")
    assert verified.returncode == 3
    assert "governance/sealguard.toml" in verified.stdout
    assert "src/app.py" in verified.stdout


def test_a_config_replaced_by_a_folder_is_an_incident_not_exit_78(tmp_path: Path) -> None:
    project = cat_project(tmp_path)
    project.config_file.unlink()
    project.config_file.mkdir()
    verified = _sealguard(project.root, "verify")
    assert verified.returncode == 3, verified.stdout + verified.stderr
    assert "governance/sealguard.toml" in verified.stdout
