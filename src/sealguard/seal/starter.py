"""`sealguard init`: a commented starter config whose sealed paths fit the project as it is.

The sealed paths are the files git tracks (every file when it is not a git repository), minus
`governance/` and caches, written as few globs as possible: a folder whose files are all
tracked becomes `folder/**`, otherwise its tracked files are named one by one. TOML holds
only UTF-8, so a byte of a name that is not UTF-8 is written as the wildcard `?`.
"""

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from sealguard.errors import RefusedError
from sealguard.fsio import write_new
from sealguard.globs import escape, make_selector
from sealguard.proc import CommandNotFound, run
from sealguard.project import Project
from sealguard.seal.scan import scan

CACHE_EXCLUDES = (
    "**/.git/**", "**/node_modules/**", "**/__pycache__/**", "**/*.pyc", "**/.venv/**",
    "**/venv/**", "**/.pytest_cache/**", "**/.mypy_cache/**", "**/.ruff_cache/**",
    "**/.tox/**", "**/.nox/**", "**/.cache/**", "**/*.egg-info/**", "**/.coverage",
    "**/htmlcov/**", "**/.DS_Store",
)  # fmt: skip

_UNDECODABLE = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8 (surrogateescape)

TEMPLATE = """\
# sealguard configuration: what is sealed, and how it is watched.
# Reference: the "Configuration" section of sealguard's README.
# Changing this file after `sealguard seal` is a governed act, like a new baseline.

[seal]
# Globs relative to the project root. `*` stays inside one folder, `**` spans folders.
# Every file they select is hashed into governance/BASELINE_REF.sha256 (governance/ never is).
paths = [
{paths}
]
# Globs removed from the selection: caches and files the product rewrites at run time.
exclude = [
{exclude}
]
"""


def tracked_files(root: Path) -> set[str] | None:
    """The files git tracks under `root`, or None when it is not a git work tree."""
    try:
        done = run(["git", "ls-files", "-z", "--full-name"], cwd=root)
        top = run(["git", "rev-parse", "--show-prefix"], cwd=root)
    except CommandNotFound:
        return None
    if done.code != 0 or top.code != 0:
        return None
    prefix = top.stdout.decode().strip()
    names = (n.decode("utf-8", "surrogateescape") for n in done.stdout.split(b"\0") if n)
    return {n[len(prefix) :] for n in names if n.startswith(prefix)}


def compact_globs(on_disk: set[str], wanted: set[str]) -> list[str]:
    """Few globs that select exactly `wanted` among `on_disk` (both relative file paths)."""
    children: dict[str, set[str]] = defaultdict(set)
    total: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for path in on_disk:
        parts = path.split("/")
        for depth in range(len(parts)):
            folder = "/".join(parts[:depth])
            children[folder].add("/".join(parts[: depth + 1]))
            total[folder] += 1
            hits[folder] += path in wanted

    def visit(folder: str) -> list[str]:
        globs: list[str] = []
        for child in sorted(children[folder]):
            if child in on_disk:
                globs += [escape(child)] if child in wanted else []
            elif hits[child] == total[child]:
                globs.append(f"{escape(child)}/**")
            elif hits[child]:
                globs += visit(child)
        return globs

    return visit("")


def _toml_string(glob: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, but for DEL, which TOML wants escaped)."""
    text = json.dumps(_UNDECODABLE.sub("?", glob), ensure_ascii=False)
    return text.replace("\x7f", "\\u007f")


def starter_config(root: Path) -> tuple[str, int]:
    """The starter config text, and how many files its globs select today."""
    selector = make_selector(["**"], CACHE_EXCLUDES)
    on_disk = {s.path for s in scan(root, selector) if s.kind in ("file", "symlink")}
    tracked = tracked_files(root)
    wanted = on_disk if tracked is None else on_disk & tracked
    globs = compact_globs(on_disk, wanted)
    text = TEMPLATE.format(
        paths="\n".join(f"    {_toml_string(g)}," for g in globs),
        exclude="\n".join(f"    {_toml_string(g)}," for g in CACHE_EXCLUDES),
    )
    return text, len(wanted)


def init(project: Project) -> int:
    """Write the starter config; returns how many files it seals today."""
    if project.config_file.exists():
        raise RefusedError(
            f"{project.display(project.config_file)} already exists; init will not overwrite it"
        )
    text, count = starter_config(project.root)
    project.governance.mkdir(exist_ok=True)
    try:
        write_new(project.config_file, text.encode())
    except FileExistsError:
        raise RefusedError(
            f"{project.display(project.config_file)} already exists; init will not overwrite it"
        ) from None
    return count
