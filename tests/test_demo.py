"""The demo walks the whole loop and exits 0 only when it showed the INCIDENT."""

from pathlib import Path


def test_demo_shows_intact_then_incident(invoke) -> None:
    result = invoke("demo")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "INTACT: 4 files and 0 symlinks match the baseline" in out
    assert "modified:\n  src/fuelcalc/fuel.py  content changed" in out
    assert out.rstrip().endswith("demo complete: the INCIDENT above is the expected outcome")


def test_demo_keep_leaves_the_folder(tmp_path: Path, invoke) -> None:
    target = tmp_path / "kept"
    assert invoke("demo", "--keep", str(target)).exit_code == 0
    assert (target / "governance/BASELINE_REF.sha256").exists()
    again = invoke("demo", "--keep", str(target))
    assert again.exit_code == 64 and "already exists" in again.stderr
