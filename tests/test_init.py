"""init: a starter config that seals the tracked files, minus governance/ and caches."""

import subprocess
from pathlib import Path

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
    config = load_config(root / "governance/sealguard.toml")
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
