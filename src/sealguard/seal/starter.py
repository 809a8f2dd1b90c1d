"""`sealguard init`: a commented starter config whose sealed paths fit the project as it is,
with a probe for each test runner it uses (runners.py) and commented escalation stanzas.

The sealed paths are the files git tracks (every file when it is not a git repository), minus
`governance/` and caches, written as few globs as possible: a folder whose files are all
tracked becomes `folder/**`, otherwise its tracked files are named one by one. TOML holds
only UTF-8, so a byte of a name that is not UTF-8 is written as the wildcard `?`.
"""

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from sealguard.errors import RefusedError
from sealguard.fsio import write_new
from sealguard.globs import escape, make_selector
from sealguard.proc import CommandNotFound, run
from sealguard.project import Project
from sealguard.seal.runners import Proposal, proposals
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
# `seal` refuses a config without any [[probe]]: observation would watch files only.
# For a project that is only files (data, documents), say so:
# files_only = true

# Probes: the product's own checks, run at `seal` and at every observation (README: "Probes").
{probes}
# Escalation (README: "Escalation"): who hears of a drift, and how soon. With no channel
# configured, an escalation reaches nobody (`seal` names the classes that would); configure
# at least one channel, then the matrix rows may name only configured channels.
# [channels.email]
# host = "smtp.example.org"
# port = 587
# starttls = true
# username = "sealguard"
# password_env = "SMTP_PASSWORD"        # the password comes from this environment variable
# from = "sealguard@example.org"
# to = ["architect@example.org"]
#
# [channels.slack]
# url_env = "SLACK_WEBHOOK_URL"
#
# [channels.pagerduty]
# routing_key_env = "PD_ROUTING_KEY"
#
# [channels.webhook]
# url_env = "HOOK_URL"
#
# [escalation]                           # the runbook's default matrix
# TOOLING_DRIFT = {{ channels = ["email"], deadline = "24h" }}
# PRODUCT_DRIFT = {{ channels = ["slack", "email"], deadline = "15m" }}
# INCIDENT      = {{ channels = ["pagerduty", "slack"], deadline = "0s" }}
# SILENCE       = {{ channels = ["slack", "email"], deadline = "1h", fallback = ["pagerduty"] }}

# How often an observation is expected (README: "Running on a schedule"): `status`, the report
# and /metrics say when the next one is due, and `sealguard heartbeat` escalates a silence
# through the SILENCE row; `sealguard schedule systemd|cron` prints timers for it.
# [schedule]
# every = "15m"
# grace = "7m30s"                        # default: half of `every`, at least a minute

# Who may decide after a drift: governance/AUTHORITY.toml, sealed with the build when it is
# there at `seal` (README: "Authority"). Without it nobody can sign a decision, and a drift
# has no way out. Write it with your architects' real OpenSSH ed25519 public keys:
#   [[person]]
#   id = "amartin"
#   name = "Alice Martin"
#   roles = ["architect"]
#   keys = ["ssh-ed25519 AAAAC3Nza... alice@example.org"]
"""

NO_PROBE = """\
# No test runner was found (pytest, vitest, jest, node --test, npm test). Write one:
# [[probe]]
# name = "unit"
# command = ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml={report}"]
# report = "junit-xml"                  # vitest-json | junit-xml | pytest | json | text
# timeout = "10m"
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


@dataclass(frozen=True)
class Starter:
    text: str  # the config
    files: int  # how many files its globs select today
    probes: list[Proposal]  # the probes it proposes, one per runner found


def starter_config(root: Path) -> Starter:
    """The starter config for the project at `root` as it is today."""
    selector = make_selector(["**"], CACHE_EXCLUDES)
    on_disk = {s.path for s in scan(root, selector) if s.kind in ("file", "symlink")}
    tracked = tracked_files(root)
    wanted = on_disk if tracked is None else on_disk & tracked
    globs = compact_globs(on_disk, wanted)
    found = proposals(root)
    text = TEMPLATE.format(
        paths="\n".join(f"    {_toml_string(g)}," for g in globs),
        exclude="\n".join(f"    {_toml_string(g)}," for g in CACHE_EXCLUDES),
        probes="".join(f"{p.stanza}\n" for p in found) or NO_PROBE,
    )
    return Starter(text, len(wanted), found)


def init(project: Project) -> Starter:
    """Write the starter config; returns what it holds."""
    if project.config_file.exists():
        raise RefusedError(
            f"{project.display(project.config_file)} already exists; init will not overwrite it"
        )
    starter = starter_config(project.root)
    project.governance.mkdir(exist_ok=True)
    try:
        write_new(project.config_file, starter.text.encode())
    except FileExistsError:
        raise RefusedError(
            f"{project.display(project.config_file)} already exists; init will not overwrite it"
        ) from None
    return starter
