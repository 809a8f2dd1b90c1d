"""`sealguard demo`: the whole loop on an embedded sample product, offline, in a scratch folder.

The sample product (fuelcalc, pure Python) is sealed with one probe: its CLI run on sealed
inputs. Then the demo walks it through the four classes the way each happens in the wild:
STABLE; TOOLING_DRIFT when the probe runner disappears; PRODUCT_DRIFT when operational data
outside the sealed paths changes the output (observation freezes, and a further attempt is
refused); and, on a second copy, INCIDENT when a sealed file is hot-fixed (observation halts).
Then the runbook's second half: an Architect (a key made by ssh-keygen, listed in the sealed
AUTHORITY.toml) accepts the drift and observation resumes STABLE; after the incident, the
report is written, the corrected build is re-sealed by a signed decision, the certification run
comes out STABLE, the incident is closed, and observation resumes.
"""

import json
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from sealguard.config import load_config
from sealguard.cpus import default_jobs
from sealguard.decide import decisions, proposals, sshsig
from sealguard.decide.decisions import Request
from sealguard.decide.incident_report import missing_sections
from sealguard.decide.keys import load_private_key
from sealguard.errors import RefusedError, UsageError
from sealguard.events import from_data
from sealguard.exitcodes import ExitCode
from sealguard.ledger import audit, read_events
from sealguard.observe.observation import observe
from sealguard.project import Project
from sealguard.report import narrative, render
from sealguard.seal.sealing import seal
from sealguard.seal.settings import config_in_force
from sealguard.seal.verify import verify
from sealguard.state import fold

Say = Callable[[str], None]  # how the demo speaks: the CLI passes output.write
TAMPERED = "src/fuelcalc/fuel.py"
RUNNER = "tools/fuel-probe"
CONFIG = """\
# The sealed build: the product's code, its tests and the fixed inputs the probe runs on.
[seal]
paths = ["src/**", "tests/**", "README.md"]
exclude = ["**/__pycache__/**"]

# One probe: the product's CLI on the sealed inputs (tools/ and data/ are not sealed).
[[probe]]
name = "fuel-table"
command = ["tools/fuel-probe"]
report = "text"
timeout = "30s"
env = {{ PYTHON = {python}, PYTHONPATH = "src", PYTHONDONTWRITEBYTECODE = "1" }}
"""


def _step(say: Say, title: str) -> None:
    say(f"\n== {title}")


def _copy_product(target: Path) -> None:
    source = resources.files("sealguard") / "demo_product"
    with resources.as_file(source) as folder:
        shutil.copytree(
            folder, target, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True
        )
    runner = target / RUNNER
    runner.chmod(runner.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _architect_key(folder: Path) -> Path:
    """An ed25519 key for the demo's Architect: made by ssh-keygen when it is installed, else
    written in the same OpenSSH format by `cryptography` (a fresh machine may lack OpenSSH)."""
    key = folder / "architect_ed25519"
    if shutil.which("ssh-keygen"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "architect@demo",
             "-f", str(key)],
            check=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        return key
    private = Ed25519PrivateKey.generate()
    key.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    key.chmod(0o600)
    public = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    key.with_name(key.name + ".pub").write_bytes(public + b" architect@demo\n")
    return key


def _authority(key: Path) -> str:
    line = key.with_name(key.name + ".pub").read_text().strip()
    return (
        '[[person]]\nid = "amartin"\nname = "Alice Martin"\nroles = ["architect"]\n'
        f'keys = ["{line}"]\n'
    )


def _sealed_copy(root: Path, key: Path | None = None, say: "Say | None" = None) -> Project:
    project = Project(root.resolve())
    _copy_product(project.root)
    project.governance.mkdir(exist_ok=True)
    project.config_file.write_text(CONFIG.format(python=json.dumps(sys.executable)))
    if key is not None:
        project.authority_file.write_text(_authority(key))
    started = time.perf_counter()
    report = seal(project, load_config(project.config_file), default_jobs())
    if say is not None:
        elapsed = time.perf_counter() - started
        say(render.seal_text(report, "governance/BASELINE_REF.sha256", elapsed))
    return project


def _observe(say: Say, project: Project) -> str:
    try:
        observation = observe(project, load_config(project.config_file), default_jobs())
    except RefusedError as exc:
        say(f"refused (exit {int(exc.exit_code)}): {exc.message}")
        return "REFUSED"
    say(narrative.observation_text(observation.event))
    if observation.escalation_id:
        say(
            f"escalated as {observation.escalation_id}: kept in the outbox and retried "
            "(the demo configures no channel; `sealguard escalations` lists it)"
        )
    return observation.event.classification


def _decide(say: Say, project: Project, request: Request, key: Path) -> None:
    config = config_in_force(project)
    now = datetime.now(UTC)
    payload = decisions.prepare(project, config, request, now)
    signature = sshsig.sign(payload, load_private_key(key))
    decided = decisions.record(project, config, payload, [signature], now)
    say(narrative.decision_text(decided.record, decided.installed, decided.state))


def _certify(say: Say, project: Project) -> str:
    observation = observe(
        project, config_in_force(project), default_jobs(), purpose="certification"
    )
    say(narrative.observation_text(observation.event))
    return observation.event.classification


POST_MORTEM = {
    "Impact": "None: the hot-fix was caught by the first observation, before any release.",
    "Root cause": "A reserve changed by hand on the server (see the snapshot and the diff).",
    "Corrective actions": "The reserve is restored and documented; the build is re-sealed.",
    "Preventive actions": "Changes go through `sealguard propose` and a signed decision.",
}


def _write_report(report: Path) -> None:
    """What people write in the report: under each of its sections that waits for them."""
    text = report.read_text()
    for heading, body in POST_MORTEM.items():
        start = text.index(f"## {heading}")
        line_end = text.index("\n", start)
        end = text.find("\n## ", line_end)
        end = len(text) if end < 0 else end
        text = text[: line_end + 1] + "\n" + body + "\n" + text[end:]
    report.write_text(text)


def _after_the_drift(say: Say, project: Project, key: Path, seen: list[str]) -> None:
    state = fold(read_events(project.log_file))
    assert state.because is not None
    _step(say, f"6. the Architect accepts the drift: sealguard decide {state.because} accept")
    _decide(say, project, Request(state.because, "accept", "the new reserve is approved"), key)
    _step(say, "7. observation resumes against baseline v2: STABLE")
    seen.append(_observe(say, project))


def _after_the_incident(say: Say, project: Project, key: Path, seen: list[str]) -> None:
    state = fold(read_events(project.log_file))
    assert state.incident is not None
    report = project.root / state.incident.report
    _step(say, f"10. incident {state.incident.incident_id}: its report, prefilled from the log")
    missing = ", ".join(missing_sections(report.read_text()))
    say(f"{state.incident.report}: sections to write: {missing}")
    _write_report(report)
    _step(
        say, "11. people correct the build, and propose its re-seal (every probe runs once on it)"
    )
    fuel = project.root / TAMPERED
    fuel.write_text(fuel.read_text().replace("RESERVE_KG = 900", "RESERVE_KG = 1_200  # reviewed"))
    made = proposals.propose_reseal(
        project, project.ledger(config_in_force(project)), state, None,
        jobs=default_jobs(), now=datetime.now(UTC), reason="hot-fix reverted and reviewed",
    )  # fmt: skip
    say(f"{made.proposal_id}: a proposal to {made.kind}")
    _step(say, f"12. the Architect signs the re-seal: sealguard decide {made.proposal_id} reseal")
    _decide(say, project, Request(made.proposal_id, "reseal", "the corrected build"), key)
    _step(say, "13. sealguard certify: one full observation against the decided baseline")
    seen.append(_certify(say, project))
    _step(
        say, f"14. sealguard incident close {state.incident.incident_id}: signed, report hash bound"
    )
    _decide(
        say, project, Request(state.incident.incident_id, "close-incident", "post-mortem done"), key
    )
    _step(say, "15. observation resumes: STABLE")
    seen.append(_observe(say, project))


def _walk(scratch: Path, say: Say) -> list[str]:
    seen: list[str] = []
    key = _architect_key(scratch)
    _step(
        say,
        f"1. seal the sample product 'fuelcalc' in {scratch / 'fuelcalc'} "
        "(code, tests, config, behaviour, and AUTHORITY.toml: who may decide)",
    )
    project = _sealed_copy(scratch / "fuelcalc", key, say=say)
    say(project.config_file.read_text().rstrip())
    _step(say, "2. sealguard observe: nothing has changed (STABLE, exit 0)")
    seen.append(_observe(say, project))
    _step(
        say,
        f"3. the probe runner {RUNNER} disappears (a broken tool, not the product): TOOLING_DRIFT",
    )
    runner = project.root / RUNNER
    kept = runner.read_bytes()
    runner.unlink()
    seen.append(_observe(say, project))
    runner.write_bytes(kept)
    runner.chmod(0o755)
    _step(
        say,
        "4. operational data outside the sealed paths changes the output: PRODUCT_DRIFT, FROZEN",
    )
    (project.root / "data/reserve.json").write_text('{"reserve_kg": 900}\n')
    seen.append(_observe(say, project))
    _step(say, "   sealguard diff: what changed, from the evidence kept in the snapshot")
    state = fold(read_events(project.log_file))
    say(narrative.diff_text(project.root, from_data(state.recent[-1])))
    _step(say, "5. observing while frozen is refused, and the refusal is journaled (exit 4)")
    seen.append(_observe(say, project))
    _after_the_drift(say, project, key, seen)
    _step(say, "8. on a second sealed copy, a hot-fix edits a sealed file: INCIDENT, HALTED")
    second = _sealed_copy(scratch / "fuelcalc-2", key, say=say)
    fuel = second.root / TAMPERED
    fuel.write_text(fuel.read_text().replace("RESERVE_KG = 1_200", "RESERVE_KG = 900"))
    seen.append(_observe(say, second))
    _step(
        say,
        "9. sealguard verify names what changed; sealguard log verify shows the evidence intact",
    )
    started = time.perf_counter()
    report = verify(second, load_config(second.config_file), default_jobs())
    say(render.verify_text(report, time.perf_counter() - started))
    say(render.log_text(audit(second.ledger(load_config(second.config_file)), 1)))
    _after_the_incident(say, second, key, seen)
    return seen


EXPECTED = [
    "STABLE", "TOOLING_DRIFT", "PRODUCT_DRIFT", "REFUSED", "STABLE", "INCIDENT", "STABLE",
    "STABLE",
]  # fmt: skip


def run_demo(
    keep: Path | None, say: Say, walk: Callable[[Path, Say], list[str]] | None = None
) -> int:
    """Exit 0 when the demo showed what it should: the four classes and the refusal, in order.
    Everything it has to say goes through `say` (the CLI passes output.write)."""
    with ExitStack() as stack:
        if keep is None:
            scratch = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="sealguard-demo-"))
            )
        elif keep.exists():
            raise UsageError(f"{keep}: already exists; --keep needs a new folder")
        else:
            keep.mkdir(parents=True)
            scratch = keep
        seen = (walk or _walk)(scratch, say)
    if seen == EXPECTED:
        say(
            "\ndemo complete: STABLE, TOOLING_DRIFT, PRODUCT_DRIFT (then refused), accepted "
            "by a signed decision and STABLE again, INCIDENT, re-sealed by decision, certified "
            "STABLE, closed, STABLE again, as expected"
        )
        return int(ExitCode.OK)
    say(f"\ndemo FAILED: saw {seen}, expected {EXPECTED}")
    return int(ExitCode.INTERNAL)
