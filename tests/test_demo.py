"""The demo walks the four classes and exits 0 only when it showed each one."""

from pathlib import Path

from sealguard.demo import run_demo


def test_demo_walks_all_four_classes(invoke) -> None:
    result = invoke("demo")
    assert result.exit_code == 0, result.output
    out = result.output
    for text in (
        "STABLE (normal):",
        "TOOLING_DRIFT (minor):",
        "TD-03 [fuel-table] the command could not start",
        "PRODUCT_DRIFT (major):",
        "-LFPG-EGLL        344     2.6      2140",
        "refused (exit 4): observation is FROZEN",
        "INCIDENT (critical):",
        "INC-01 INV-D-02: modified src/fuelcalc/fuel.py",
        "INCIDENT: INV-D-02 violated: 1 modified",
        "signed by Alice Martin (amartin)",
        "baseline v2 installed",
        "sections to write: Impact, Root cause (with evidence), Corrective actions",
        "a proposal to reseal",
        "close-incident INC_",
        "state: OBSERVING (close-incident by Alice Martin (amartin)",
    ):
        assert text in out, text
    assert out.rstrip().endswith("STABLE again, as expected")


def test_demo_keep_leaves_the_folders(tmp_path: Path, invoke) -> None:
    target = tmp_path / "kept"
    assert invoke("demo", "--keep", str(target)).exit_code == 0
    assert (target / "fuelcalc/governance/BASELINE_REF.sha256").exists()
    assert (target / "fuelcalc-2/governance/runtime/GOVERNANCE_LOG.ndjson").exists()
    assert (target / "fuelcalc/governance/AUTHORITY.toml").exists()
    assert list((target / "fuelcalc-2/governance/incidents").glob("INC_*/INCIDENT_REPORT.md"))
    again = invoke("demo", "--keep", str(target))
    assert again.exit_code == 64 and "already exists" in again.stderr


def test_demo_fails_loudly_when_a_class_is_not_seen(tmp_path: Path) -> None:
    said: list[str] = []
    assert run_demo(tmp_path / "x", said.append, walk=lambda scratch, say: ["STABLE"]) == 70
    assert said and "demo FAILED" in said[-1]
