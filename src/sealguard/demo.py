"""`sealguard demo`: the whole loop on an embedded sample product, in a scratch folder.

It copies the sample product (fuelcalc), writes its config, seals it, verifies it, then edits
one sealed file the way an unauthorised hot-fix would, and shows the INCIDENT that follows.
"""

import shutil
import tempfile
import time
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

from sealguard import output, render
from sealguard.config import load_config
from sealguard.errors import UsageError
from sealguard.exitcodes import ExitCode
from sealguard.hashing import default_jobs
from sealguard.project import Project
from sealguard.seal import seal
from sealguard.starter import init
from sealguard.verify import verify

TAMPERED = "src/fuelcalc/fuel.py"


def _step(number: int, title: str) -> None:
    output.write(f"\n== {number}. {title}")


def _copy_product(target: Path) -> None:
    source = resources.files("sealguard") / "demo_product"
    with resources.as_file(source) as folder:
        shutil.copytree(
            folder, target, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True
        )


def _verify_and_show(project: Project) -> bool:
    started = time.perf_counter()
    report = verify(project, load_config(project.config_file), default_jobs())
    output.write(render.verify_text(report, time.perf_counter() - started))
    return report.intact


def _walk(project: Project) -> bool:
    _step(1, f"copy the sample product 'fuelcalc' to {project.root}")
    _copy_product(project.root)
    _step(2, "sealguard init: write governance/sealguard.toml")
    count = init(project)
    output.write(f"the starter config seals {count} files")
    _step(3, "sealguard seal: hash the sealed build into governance/BASELINE_REF.sha256")
    started = time.perf_counter()
    report = seal(project, load_config(project.config_file), default_jobs())
    output.write(
        render.seal_text(report, "governance/BASELINE_REF.sha256", time.perf_counter() - started)
    )
    _step(4, "sealguard verify: nothing has changed yet")
    first_intact = _verify_and_show(project)
    _step(5, f"an unauthorised hot-fix edits {TAMPERED} (the reserve drops from 1200 to 900 kg)")
    tampered = project.root / TAMPERED
    tampered.write_text(tampered.read_text().replace("RESERVE_KG = 1_200", "RESERVE_KG = 900"))
    _step(6, "sealguard verify: the change is caught and named (exit code 3, INCIDENT)")
    second_intact = _verify_and_show(project)
    return first_intact and not second_intact


def run_demo(keep: Path | None) -> int:
    """Exit 0 when the demo showed what it should: intact, then an INCIDENT naming the file."""
    with ExitStack() as stack:
        if keep is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sealguard-demo-")))
        elif keep.exists():
            raise UsageError(f"{keep}: already exists; --keep needs a new folder")
        else:
            root = keep
        ok = _walk(Project(root.resolve()))
    output.write(
        "\ndemo complete: the INCIDENT above is the expected outcome" if ok else "\ndemo FAILED"
    )
    return int(ExitCode.OK if ok else ExitCode.INTERNAL)
