"""Governed projects with an AUTHORITY.toml of real ssh-keygen keys, for the decide stage."""

import json
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from sealguard import ledger
from sealguard.cli import cli
from sealguard.config import load_config
from sealguard.project import Project
from sealguard.seal.sealing import seal
from sealguard.state import ObservationState, fold

from .probe_projects import unsealed_cat_project
from .ssh_tools import SshKey, make_key


@dataclass(frozen=True)
class Team:
    """Alice and Bob are architects, Olga an operator; Mallory is nobody."""

    alice: SshKey
    bob: SshKey
    olga: SshKey
    mallory: SshKey


def make_team(folder: Path) -> Team:
    folder.mkdir(parents=True, exist_ok=True)
    return Team(*(make_key(folder, name) for name in ("alice", "bob", "olga", "mallory")))


def authority_text(team: Team, rules: str = "") -> str:
    people = [
        ("amartin", "Alice Martin", ["architect"], team.alice),
        ("bdurand", "Bob Durand", ["architect"], team.bob),
        ("opetit", "Olga Petit", ["operator"], team.olga),
    ]
    text = "".join(
        f'[[person]]\nid = "{pid}"\nname = "{name}"\nroles = {json.dumps(roles)}\n'
        f'keys = ["{key.line}"]\n\n'
        for pid, name, roles, key in people
    )
    return text + (f"[rules]\n{rules}\n" if rules else "")


def governed(base: Path, team: Team, rules: str = "", name: str = "product") -> Project:
    """The cat project (its probe prints data/value.txt, outside the sealed src/**), sealed with
    an AUTHORITY.toml: changing data/value.txt is a PRODUCT_DRIFT, src/app.py an INCIDENT."""
    project = unsealed_cat_project(base, name)
    project.authority_file.write_text(authority_text(team, rules))
    seal(project, load_config(project.config_file), jobs=1)
    return project


def run(project: Project, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(project.root), *args])


def state_of(project: Project) -> ObservationState:
    return fold(ledger.read_events(project.log_file))


def events_of(project: Project, kind: str) -> list[dict[str, object]]:
    return [e for e in ledger.read_events(project.log_file) if e.get("type") == kind]


def drift(project: Project) -> str:
    """Make the product's output change and observe: PRODUCT_DRIFT; returns the event id."""
    (project.root / "data" / "value.txt").write_text("43\n")
    done = run(project, "observe", "--json")
    assert done.exit_code == 2, done.output
    return str(json.loads(done.stdout)["event_id"])


def incident(project: Project) -> str:
    """Tamper with a sealed file and observe: INCIDENT; returns the event id."""
    (project.root / "src" / "app.py").write_text("print('tampered')\n")
    done = run(project, "observe", "--json")
    assert done.exit_code == 3, done.output
    return str(json.loads(done.stdout)["event_id"])


def key_args(*keys: SshKey) -> list[str]:
    return [arg for key in keys for arg in ("--key", str(key.path))]
