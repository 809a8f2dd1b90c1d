"""observe with a real `node --test` project: its junit report and its console (skipped
where node is not installed)."""

import json
import shutil
from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.observe.observation import Observation, observe
from sealguard.project import Project
from sealguard.seal.sealing import seal

from .conftest import write_tree

TESTS = """\
const test = require("node:test");
const { describe, it } = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const offset = Number(fs.readFileSync("data/offset", "utf8"));
test("adds", () => { assert.strictEqual(1 + 2, 3); });
test("later", { skip: true }, () => {});
describe("sum", () => {
  it("zero", () => { assert.strictEqual(0 + 0, 0); });
  describe("carry", () => { it("nine", () => { assert.strictEqual(9 + 1 + offset, 10); }); });
});
"""
COMMAND = [
    "node", "--test", "--test-reporter=junit", "--test-reporter-destination={report}",
    "--test-reporter=spec", "--test-reporter-destination=stdout", "test/",
]  # fmt: skip
CONFIG = (
    '[seal]\npaths = ["test/**"]\n\n'
    f'[[probe]]\nname = "node"\ncommand = {json.dumps(COMMAND)}\nreport = "junit-xml"\n'
    'timeout = "1m"\n'
)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    root = tmp_path / "app"
    write_tree(
        root,
        {"test/sum.test.js": TESTS, "data/offset": "0", "governance/sealguard.toml": CONFIG},
    )
    project = Project(root)
    seal(project, load_config(project.config_file), jobs=1)
    return project


def run(project: Project) -> Observation:
    return observe(project, load_config(project.config_file), jobs=1)


def test_the_node_baseline_counts_every_test(project: Project) -> None:
    meta = json.loads((project.governance / "baseline/node/probe.json").read_text())
    assert meta["test_count"] == 4
    assert meta["tests"]["test::adds"] == "passed"
    observation = run(project)
    assert observation.event.classification == "STABLE"
    assert observation.event.probes[0].console == {
        "passed": 3, "failed": 0, "errors": 0, "skipped": 1,
    }  # fmt: skip


def test_a_failing_node_test_is_named(project: Project) -> None:
    (project.root / "data/offset").write_text("1")
    observation = run(project)
    assert observation.event.classification == "PRODUCT_DRIFT"
    [step] = [s for s in observation.event.why if s.matched]
    assert step.rule == "PD-02"
    assert step.detail == "1 failing: test::carry > nine"


def test_diagnose_reads_nodes_console_summary(project: Project, invoke) -> None:
    event_id = run(project).event.event_id
    diagnosis = invoke("--project", str(project.root), "diagnose", event_id).output
    assert "no console summary was recognised" not in diagnosis
    assert "[x] tests passing on the console (node)? yes: 3 passed, 0 failed, 0 errors" in diagnosis


def test_seal_names_the_failing_node_test(tmp_path: Path) -> None:
    from sealguard.errors import DataError

    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    root = tmp_path / "app"
    write_tree(
        root,
        {"test/sum.test.js": TESTS, "data/offset": "1", "governance/sealguard.toml": CONFIG},
    )
    project = Project(root)
    with pytest.raises(DataError) as raised:
        seal(project, load_config(project.config_file), jobs=1)
    assert str(raised.value).startswith(
        "probe node: its verdict is FAIL (exit 1, expected 0: 1 failing: test::carry > nine); "
    )
