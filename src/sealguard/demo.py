"""`sealguard demo`: the whole loop on an embedded sample product, offline, in a scratch folder.

The sample product (fuelcalc, pure Python) is sealed with one probe: its CLI run on sealed
inputs. Then the demo walks it through the four classes the way each happens in the wild:
STABLE; TOOLING_DRIFT when the probe runner disappears; PRODUCT_DRIFT when operational data
outside the sealed paths changes the output (observation freezes, and a further attempt is
refused); and, on a second copy, INCIDENT when a sealed file is hot-fixed (observation halts).
"""

import json
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

from sealguard import output
from sealguard.config import load_config
from sealguard.errors import RefusedError, UsageError
from sealguard.events import from_data
from sealguard.exitcodes import ExitCode
from sealguard.ledger import audit, read_events
from sealguard.observe.observation import observe
from sealguard.project import Project
from sealguard.report import narrative, render
from sealguard.seal.hashing import default_jobs
from sealguard.seal.sealing import seal
from sealguard.seal.verify import verify
from sealguard.state import fold

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


def _step(title: str) -> None:
    output.write(f"\n== {title}")


def _copy_product(target: Path) -> None:
    source = resources.files("sealguard") / "demo_product"
    with resources.as_file(source) as folder:
        shutil.copytree(
            folder, target, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True
        )
    runner = target / RUNNER
    runner.chmod(runner.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _sealed_copy(root: Path) -> Project:
    project = Project(root.resolve())
    _copy_product(project.root)
    project.governance.mkdir(exist_ok=True)
    project.config_file.write_text(CONFIG.format(python=json.dumps(sys.executable)))
    started = time.perf_counter()
    report = seal(project, load_config(project.config_file), default_jobs())
    output.write(
        render.seal_text(report, "governance/BASELINE_REF.sha256", time.perf_counter() - started)
    )
    return project


def _observe(project: Project) -> str:
    try:
        observation = observe(project, load_config(project.config_file), default_jobs())
    except RefusedError as exc:
        output.write(f"refused (exit {int(exc.exit_code)}): {exc.message}")
        return "REFUSED"
    output.write(narrative.observation_text(observation.event))
    if observation.escalation_id:
        output.write(
            f"escalated as {observation.escalation_id}: kept in the outbox and retried "
            "(the demo configures no channel; `sealguard escalations` lists it)"
        )
    return observation.event.classification


def _walk(scratch: Path) -> list[str]:
    seen: list[str] = []
    _step(
        f"1. seal the sample product 'fuelcalc' in {scratch / 'fuelcalc'} "
        "(code, tests, config, behaviour)"
    )
    project = _sealed_copy(scratch / "fuelcalc")
    output.write(project.config_file.read_text().rstrip())
    _step("2. sealguard observe: nothing has changed (STABLE, exit 0)")
    seen.append(_observe(project))
    _step(
        f"3. the probe runner {RUNNER} disappears (a broken tool, not the product): TOOLING_DRIFT"
    )
    runner = project.root / RUNNER
    kept = runner.read_bytes()
    runner.unlink()
    seen.append(_observe(project))
    runner.write_bytes(kept)
    runner.chmod(0o755)
    _step("4. operational data outside the sealed paths changes the output: PRODUCT_DRIFT, FROZEN")
    (project.root / "data/reserve.json").write_text('{"reserve_kg": 900}\n')
    seen.append(_observe(project))
    _step("   sealguard diff: what changed, from the evidence kept in the snapshot")
    state = fold(read_events(project.log_file))
    output.write(narrative.diff_text(project.root, from_data(state.recent[-1])))
    _step("5. observing while frozen is refused, and the refusal is journaled (exit 4)")
    seen.append(_observe(project))
    _step("6. on a second sealed copy, a hot-fix edits a sealed file: INCIDENT, HALTED")
    second = _sealed_copy(scratch / "fuelcalc-2")
    fuel = second.root / TAMPERED
    fuel.write_text(fuel.read_text().replace("RESERVE_KG = 1_200", "RESERVE_KG = 900"))
    seen.append(_observe(second))
    _step("7. sealguard verify names what changed; sealguard log verify shows the evidence intact")
    started = time.perf_counter()
    report = verify(second, load_config(second.config_file), default_jobs())
    output.write(render.verify_text(report, time.perf_counter() - started))
    output.write(render.log_text(audit(second.ledger(load_config(second.config_file)), 1)))
    return seen


EXPECTED = ["STABLE", "TOOLING_DRIFT", "PRODUCT_DRIFT", "REFUSED", "INCIDENT"]


def run_demo(keep: Path | None, walk: Callable[[Path], list[str]] | None = None) -> int:
    """Exit 0 when the demo showed what it should: the four classes and the refusal, in order."""
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
        seen = (walk or _walk)(scratch)
    if seen == EXPECTED:
        output.write(
            "\ndemo complete: STABLE, TOOLING_DRIFT, PRODUCT_DRIFT (then refused), INCIDENT, "
            "as expected"
        )
        return int(ExitCode.OK)
    output.write(f"\ndemo FAILED: saw {seen}, expected {EXPECTED}")
    return int(ExitCode.INTERNAL)
