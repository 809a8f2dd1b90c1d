"""The fleet benchmark's builder (benchmarks/fleet_build.py) writes what hosts write: every
line shipped, one head per log, and a fleet that `fleet status` and `log verify` accept."""

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

from .fleet_db import fleet_url, sg  # noqa: F401 (fixture)

BUILDER = Path(__file__).resolve().parents[1] / "benchmarks" / "fleet_build.py"


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fleet_build_benchmark", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_built_fleet_is_shipped_whole_and_reads_as_hosts_wrote_it(
    builder: ModuleType,
    tmp_path: Path,
    fleet_url: str,  # noqa: F811
) -> None:
    seen: list[int] = []
    roots = builder.build_fleet(
        fleet_url, tmp_path / "fleet", 3, 50, per_act=7, drifting=1, progress=seen.append
    )
    assert seen == [1, 2, 3] and len(roots) == 3
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        held = conn.execute(
            "SELECT l.project, l.size, h.at_seq FROM sealguard.logs l "
            "JOIN sealguard.heads h USING (origin) ORDER BY l.project"
        ).fetchall()
    assert held == [("p00000", 17, 17), ("p00001", 17, 17), ("p00002", 16, 16)]
    for root, (_, size, _) in zip(roots, held, strict=True):
        log = root / "governance" / "runtime" / "GOVERNANCE_LOG.ndjson"
        assert len(log.read_bytes().splitlines()) == size
        done = sg("--project", str(root), "log", "verify")
        assert done.exit_code == 0, done.output
    done = sg("fleet", "status", "--url", fleet_url, "--json")
    states = [row["state"] for row in json.loads(done.stdout)["logs"]]
    assert states == ["OBSERVING", "OBSERVING", "FROZEN"]
