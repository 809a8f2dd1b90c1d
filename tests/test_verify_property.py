"""Any single change to a sealed tree makes verify exit 3 and name the path (hypothesis)."""

import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sealguard.config import load_config, parse_config
from sealguard.exitcodes import ExitCode
from sealguard.project import Project
from sealguard.report.render import verify_exit_code
from sealguard.seal.sealing import seal
from sealguard.seal.verify import verify

CONFIG = '[seal]\npaths = ["src/**"]\nfiles_only = true\n'
rel_paths = st.builds("src/d{}/f{}".format, st.integers(0, 3), st.integers(0, 9))
files = st.dictionaries(
    rel_paths,
    st.tuples(st.binary(max_size=64), st.sampled_from([0o644, 0o755, 0o600])),
    min_size=1,
    max_size=8,
)
links = st.dictionaries(
    st.builds("src/l{}".format, st.integers(0, 3)),
    st.sampled_from(["d0/f0", "../x", "nowhere"]),
    max_size=2,
)
CHANGES = ["byte", "mode", "add", "remove", "rename", "retarget"]


def build(root: Path, tree: dict[str, tuple[bytes, int]], symlinks: dict[str, str]) -> Project:
    for rel, (data, mode) in tree.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.chmod(path, mode)
    for rel, target in symlinks.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / rel)
    (root / "governance").mkdir()
    (root / "governance/sealguard.toml").write_text(CONFIG)
    project = Project(root)
    seal(project, parse_config(CONFIG, project.config_file), jobs=1)
    return project


def apply(
    root: Path, change: str, tree: dict[str, tuple[bytes, int]], symlinks: dict[str, str], pick: int
) -> set[str]:
    """Make one change; return the paths verify must name."""
    names = sorted(tree)
    target = names[pick % len(names)]
    path = root / target
    if change == "byte":
        data = path.read_bytes()
        if data:
            index = pick % len(data)
            path.write_bytes(data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :])
        else:
            path.write_bytes(b"\0")
    elif change == "mode":
        os.chmod(path, tree[target][1] ^ 0o100)
    elif change == "add":
        (root / "src/new").mkdir(exist_ok=True)
        (root / "src/new/added").write_bytes(b"")
        return {"src/new/added"}
    elif change == "remove":
        path.unlink()
    elif change == "rename":
        os.rename(path, root / "src/renamed")
        return {target, "src/renamed"}
    elif change == "retarget" and symlinks:
        link = sorted(symlinks)[pick % len(symlinks)]
        os.unlink(root / link)
        os.symlink(symlinks[link] + "-elsewhere", root / link)
        return {link}
    else:  # no symlink to retarget: replace a file by a symlink instead
        path.unlink()
        os.symlink("elsewhere", path)
    return {target}


@settings(max_examples=60)
@given(files, links, st.sampled_from(CHANGES), st.integers(0, 1000))
def test_any_single_change_is_detected_and_named(
    tree: dict[str, tuple[bytes, int]], symlinks: dict[str, str], change: str, pick: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        project = build(root, tree, symlinks)
        assert verify(project, load_config(project.config_file), 1).intact
        expected = apply(root, change, tree, symlinks, pick)
        report = verify(project, load_config(project.config_file), 1)
        assert verify_exit_code(report) == ExitCode.INCIDENT
        assert {d.path for d in report.differences} == expected
