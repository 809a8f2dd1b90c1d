"""A probe's processes end with it: what it leaves running is killed, reported and classified."""

import json
from pathlib import Path

import jsonschema

from sealguard.config import load_config
from sealguard.observe.observation import observe
from sealguard.project import Project
from sealguard.seal.sealing import seal
from sealguard.seal.verify import verify

from .conftest import write_tree

# With data/leave present, the probe leaves a child behind that writes into the sealed paths
# a while after the probe ended (the observation's second invariant check is over by then).
PROBE = """\
echo "result 42"
if [ -f data/leave ]; then
  sh -c 'echo $$ > data/child.pid; sleep 3; echo late > src/late.txt' &
  while [ ! -s data/child.pid ]; do sleep 0.01; done
fi
exit 0
"""
CONFIG = """\
[seal]
paths = ["src/**"]

[[probe]]
name = "leaves"
command = "sh src/probe.sh"
shell = true
timeout = "1m"
"""


def _project(tmp_path: Path) -> Project:
    root = tmp_path / "product"
    write_tree(
        root,
        {"src/probe.sh": PROBE, "data/README": "runtime data", "governance/sealguard.toml": CONFIG},
    )
    project = Project(root)
    seal(project, load_config(project.config_file), jobs=1)
    return project


def test_a_child_left_behind_is_killed_reported_and_product_drift(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project.root / "data/leave").write_text("")
    observation = observe(project, load_config(project.config_file), jobs=1)
    child = int((project.root / "data/child.pid").read_text())
    assert not Path(f"/proc/{child}").exists(), "the child outlived the probe"
    assert not (project.root / "src/late.txt").exists()
    event = observation.event
    assert event.classification == "PRODUCT_DRIFT" and event.state_after == "FROZEN"
    assert [s.rule for s in event.why if s.matched] == ["PD-10"]
    survivors = event.probes[0].survivors
    assert child in [s.pid for s in survivors]
    assert any("sleep 3; echo late > src/late.txt" in s.command for s in survivors)
    event_file = project.event_file(event.event_id)
    shipped = Path(__file__).parents[1] / "src/sealguard/schemas/event.schema.json"
    data = json.loads(event_file.read_text())
    jsonschema.validate(data, json.loads(shipped.read_text()))
    assert data["probes"][0]["survivors"][0]["pid"] == survivors[0].pid
    assert verify(project, load_config(project.config_file), 1).intact


def test_a_probe_that_leaves_nothing_reports_no_survivor(tmp_path: Path) -> None:
    project = _project(tmp_path)
    observation = observe(project, load_config(project.config_file), jobs=1)
    assert observation.event.classification == "STABLE"
    assert observation.event.probes[0].survivors == []


def test_seal_refuses_a_probe_that_leaves_processes_running(tmp_path: Path) -> None:
    import pytest

    from sealguard.errors import DataError

    root = tmp_path / "product"
    write_tree(
        root,
        {"src/probe.sh": PROBE, "data/leave": "", "governance/sealguard.toml": CONFIG},
    )
    project = Project(root)
    with pytest.raises(
        DataError, match=r"probe leaves: it left \d+ process\(es\) running \(killed\)"
    ):
        seal(project, load_config(project.config_file), jobs=1)
    assert not Path(f"/proc/{int((root / 'data/child.pid').read_text())}").exists()


# pytest -v's console for 150,000 tests (about 9 MiB): more than the head and tail read whole.
VERBOSE = """\
import sys
out = sys.stdout
out.write("platform linux -- Python 3.11.9, pytest-8.3.4, pluggy-1.5.0\\n")
for i in range(150_000):
    out.write(f"tests/test_many.py::test_case_{i:06d} {'SKIPPED' if i == 75_000 else 'PASSED'}\\n")
out.write("=== 149999 passed, 1 skipped in 9.00s ===\\n")
"""


def test_pytest_statuses_are_read_from_all_of_a_huge_console(tmp_path: Path) -> None:
    import sys

    root = tmp_path / "many"
    config = (
        '[seal]\npaths = ["src/**"]\n\n[[probe]]\nname = "many"\n'
        f'command = [{json.dumps(sys.executable)}, "src/many.py"]\nreport = "pytest"\n'
    )
    write_tree(root, {"src/many.py": VERBOSE, "governance/sealguard.toml": config})
    project = Project(root)
    seal(project, load_config(project.config_file), jobs=1)
    sealed = json.loads((project.governance / "baseline/many/probe.json").read_text())
    assert sealed["test_count"] == 150_000
    assert sealed["tests"]["tests/test_many.py::test_case_075000"] == "skipped"  # the middle


def _missing_tool_project(tmp_path: Path, command: str) -> Project:
    root = tmp_path / "product"
    config = (
        f'[seal]\npaths = ["src/**"]\n\n[[probe]]\nname = "x"\ncommand = {command}\n'
        'timeout = "1m"\n'
    )
    write_tree(root, {"src/app.py": "", "tool/run": "", "governance/sealguard.toml": config})
    return Project(root)


def test_seal_says_why_a_probe_could_not_start(tmp_path: Path) -> None:
    import pytest

    from sealguard.errors import DataError

    project = _missing_tool_project(tmp_path, '["no-such-tool", "--check"]')
    with pytest.raises(DataError) as raised:
        seal(project, load_config(project.config_file), jobs=1)
    assert str(raised.value).startswith(
        "probe x: it could not start (cannot start no-such-tool: No such file or directory); "
    )


def test_seal_says_a_shell_did_not_find_the_command(tmp_path: Path) -> None:
    import pytest

    from sealguard.errors import DataError

    project = _missing_tool_project(tmp_path, '"no-such-tool --check"\nshell = true')
    with pytest.raises(DataError) as raised:
        seal(project, load_config(project.config_file), jobs=1)
    assert str(raised.value).startswith(
        "probe x: its verdict is FAIL (exit 127, expected 0: the command was not found, "
        "the console says `/bin/sh: 1: no-such-tool: not found`); "
    )


def test_observe_names_the_command_that_could_not_start(tmp_path: Path) -> None:
    # the tool is there when sealing, gone at run time (outside the sealed paths)
    project = _missing_tool_project(tmp_path, '["tool/run"]')
    (project.root / "tool/run").write_text("#!/bin/sh\nexit 0\n")
    (project.root / "tool/run").chmod(0o755)
    seal(project, load_config(project.config_file), jobs=1)
    (project.root / "tool/run").unlink()
    event = observe(project, load_config(project.config_file), jobs=1).event
    [step] = [s for s in event.why if s.matched]
    assert (event.classification, step.rule) == ("TOOLING_DRIFT", "TD-03")
    assert step.detail == (
        "the command could not start: cannot start tool/run: No such file or directory"
    )
