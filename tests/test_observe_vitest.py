"""observe with a real vitest project (installed from the npm registry once per test session)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.observe.observation import Observation, observe
from sealguard.project import Project
from sealguard.seal.sealing import seal

from .conftest import write_tree

PACKAGE = {
    "name": "adder-app",
    "version": "1.0.0",
    "private": True,
    "type": "module",
    "devDependencies": {"vitest": "3.2.4"},
}
SOURCES = {
    "src/sum.js": 'import { plus } from "adder";\nexport function sum(a, b) { return plus(a, b); }\n',
    "src/sum.test.js": (
        'import { describe, it, expect } from "vitest";\nimport { sum } from "./sum.js";\n'
        'describe("sum", () => {\n'
        '  it("adds", () => { expect(sum(1, 2)).toBe(3); });\n'
        '  it("zero", () => { expect(sum(0, 0)).toBe(0); });\n'
        '  it("negative", () => { expect(sum(-2, 2)).toBe(0); });\n'
        "});\n"
    ),
    "src/other.test.js": 'import { it, expect } from "vitest";\nit("stands alone", () => { expect(1).toBe(1); });\n',
}
ADDER = "export function plus(a, b) { return a + b; }\n"
CONFIG = (
    '[seal]\npaths = ["src/**", "package.json"]\nexclude = ["**/node_modules/**"]\n\n'
    '[[probe]]\nname = "vitest"\n'
    'command = ["npx", "--no-install", "vitest", "run", "--reporter=default", "--reporter=json", "--outputFile.json={report}"]\n'
    'report = "vitest-json"\ntimeout = "2m"\nversion = ["npx", "--no-install", "vitest", "--version"]\n'
)


@pytest.fixture(scope="session")
def vitest_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    root = tmp_path_factory.mktemp("vitest") / "template"
    write_tree(root, {"package.json": json.dumps(PACKAGE), **SOURCES})
    env = {
        **os.environ,
        "npm_config_cache": str(root.parent / "npm-cache"),
        "npm_config_update_notifier": "false",
    }
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"npm install failed: {done.stderr[-2000:]}"
    write_tree(
        root,
        {
            "node_modules/adder/package.json": '{"name": "adder", "type": "module", "main": "index.js"}',
            "node_modules/adder/index.js": ADDER,
        },
    )
    return root


@pytest.fixture
def project(vitest_template: Path, tmp_path: Path) -> Project:
    root = tmp_path / "app"
    shutil.copytree(vitest_template, root, symlinks=True)
    write_tree(root, {"governance/sealguard.toml": CONFIG})
    project = Project(root)
    seal(project, load_config(project.config_file), jobs=1)
    return project


def run(project: Project) -> Observation:
    return observe(project, load_config(project.config_file), jobs=1)


def test_vitest_baseline_and_three_stable_runs(project: Project) -> None:
    meta = json.loads((project.governance / "baseline/vitest/probe.json").read_text())
    assert meta["test_count"] == 4 and meta["tool_version"].startswith("vitest/3.2.4")
    assert meta["tests"]["src/sum.test.js > sum adds"] == "passed"
    observations = [run(project) for _ in range(3)]
    assert [o.event.classification for o in observations] == ["STABLE"] * 3
    assert (
        len({o.event.probes[0].output_sha256 for o in observations} | {meta["output_sha256"]}) == 1
    )


def test_a_changed_dependency_is_product_drift(project: Project) -> None:
    (project.root / "node_modules/adder/index.js").write_text(
        "export function plus(a, b) { return a + b + 1; }\n"
    )
    observation = run(project)
    assert observation.event.classification == "PRODUCT_DRIFT"
    assert [s.rule for s in observation.event.why if s.matched] == ["PD-02"]
    changes = {c.test: (c.before, c.after) for c in observation.event.probes[0].status_changes}
    assert changes["src/sum.test.js > sum adds"] == ("passed", "failed")
    assert "src/other.test.js > stands alone" not in changes


def test_the_runner_uninstalled_is_tooling_drift(project: Project) -> None:
    shutil.rmtree(project.root / "node_modules/vitest")
    observation = run(project)
    assert observation.event.classification == "TOOLING_DRIFT", observation.event.why
    # npx says "canceled due to missing packages" (TD-03), or ENOTCACHED when offline (TD-02)
    assert [s.rule for s in observation.event.why if s.matched] in (["TD-03"], ["TD-02"])
