"""Memory stays bounded whatever a probe prints: one huge line, a huge baseline, a huge report.

Each command runs as a real `sealguard` process under a small wrapper that reads the peak
resident memory of its children (`ru_maxrss`, the largest process of the tree: sealguard; the
probe itself writes in 1 MiB chunks). The default run uses 100 MiB; the slow run 500 MiB.
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import write_tree

LIMIT_MIB = 200
MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)
# Prints data/size MiB of "a" on one line, or writes them as one JSON string into the report.
# With data/wide, the line starts with an emoji (Python then holds its text at 4 bytes a
# character) and goes to stderr as well.
LOUD = """\
import json, pathlib, sys
size = int(pathlib.Path("data/size").read_text())
chunk = b"a" * (1 << 20)
if len(sys.argv) > 1 and pathlib.Path("data/keys").exists():  # the costliest shape to parse
    entries = (f'"k{i}": {{"a": {i}}}' for i in range(int(pathlib.Path("data/keys").read_text())))
    pathlib.Path(sys.argv[1]).write_text("{" + ",".join(entries) + "}")
elif len(sys.argv) > 1:
    with open(sys.argv[1], "wb") as report:
        report.write(b'{"success": true, "output": "')
        for _ in range(size):
            report.write(chunk)
        report.write(b'"}')
else:
    wide = pathlib.Path("data/wide").exists()
    for out in (sys.stdout.buffer, sys.stderr.buffer) if wide else (sys.stdout.buffer,):
        out.write("\U0001f600".encode() if wide else b"")
        for _ in range(size):
            out.write(chunk)
        out.write(b"\\n")
"""
SIZES = [100, pytest.param(500, marks=pytest.mark.slow)]


def _project(tmp_path: Path, size: int, report: bool = False, wide: bool = False) -> Path:
    command = [sys.executable, "src/loud.py", *(["{report}"] if report else [])]
    config = (
        '[seal]\npaths = ["src/**"]\n\n[[probe]]\nname = "loud"\n'
        f"command = {json.dumps(command)}\nreport = {json.dumps('json' if report else 'text')}\n"
        'timeout = "5m"\n'
    )
    root = tmp_path / "loud"
    write_tree(
        root, {"src/loud.py": LOUD, "data/size": str(size), "governance/sealguard.toml": config}
    )
    if wide:
        (root / "data/wide").write_text("")
    return root


def _sealguard(root: Path, *args: str) -> tuple[int, float]:
    """Run sealguard; returns its exit code and its peak resident memory in MiB."""
    argv = [sys.executable, "-m", "sealguard", "--project", str(root), *args]
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=True
    )
    code, peak_kib = done.stdout.split()
    return int(code), int(peak_kib) / 1024


def _events(root: Path) -> list[dict[str, object]]:
    return [
        json.loads(p.read_text())
        for p in sorted((root / "governance/runtime/events").rglob("*.json"))
    ]


@pytest.mark.parametrize("size", SIZES)
def test_one_huge_line_is_sealed_and_observed_in_bounded_memory(tmp_path: Path, size: int) -> None:
    root = _project(tmp_path, size)
    code, sealing = _sealguard(root, "seal")
    assert code == 0
    code, observing = _sealguard(root, "observe")
    assert code == 0  # STABLE: the same huge line again
    assert sealing <= LIMIT_MIB, f"seal peaked at {sealing:.0f} MiB for a {size} MiB line"
    assert observing <= LIMIT_MIB, f"observe peaked at {observing:.0f} MiB for a {size} MiB line"
    probe = _events(root)[-1]["probes"][0]  # type: ignore[index]
    line = hashlib.sha256()
    assert probe["stdout_sha256"] == probe["output_sha256"]  # a line that long is kept as printed
    for _ in range(size):
        line.update(b"a" * (1 << 20))
    line.update(b"\n")
    assert probe["stdout_sha256"] == probe["output_sha256"] == line.hexdigest()


def test_a_huge_line_of_wide_characters_on_both_streams_stays_bounded(tmp_path: Path) -> None:
    """The console's head and tail are read as text: one emoji makes that text 4 bytes a
    character."""
    root = _project(tmp_path, 100, wide=True)
    code, sealing = _sealguard(root, "seal")
    assert code == 0 and sealing <= LIMIT_MIB, f"seal peaked at {sealing:.0f} MiB"
    code, observing = _sealguard(root, "observe")
    assert code == 0 and observing <= LIMIT_MIB, f"observe peaked at {observing:.0f} MiB"


@pytest.mark.parametrize("size", SIZES)
def test_a_huge_baseline_against_another_huge_output_stays_bounded(
    tmp_path: Path, size: int
) -> None:
    root = _project(tmp_path, size)
    assert _sealguard(root, "seal")[0] == 0
    (root / "data/size").write_text(str(size + 1))  # runtime data: the product prints more
    code, observing = _sealguard(root, "observe")
    assert code == 2
    assert observing <= LIMIT_MIB, f"observe peaked at {observing:.0f} MiB"
    event = _events(root)[-1]
    assert [s["rule"] for s in event["why"] if s["matched"]] == ["PD-07"]  # type: ignore[attr-defined]
    snapshot = root / event["snapshot"]["path"]  # type: ignore[index]
    assert "too large to diff here" in (snapshot / "loud/diff.txt").read_text()


def test_a_line_just_under_the_diff_limit_is_diffed(tmp_path: Path) -> None:
    root = _project(tmp_path, 6)
    assert _sealguard(root, "seal")[0] == 0
    (root / "data/size").write_text("7")
    code, observing = _sealguard(root, "observe")
    assert code == 2 and observing <= LIMIT_MIB
    event = _events(root)[-1]
    diff = (root / event["snapshot"]["path"] / "loud/diff.txt").read_text()  # type: ignore[index]
    assert "--- baseline/output.normalized" in diff and "a" * 1000 in diff


def test_a_huge_report_is_refused_when_sealing_and_read_as_too_large(tmp_path: Path) -> None:
    root = _project(tmp_path, 100, report=True)
    code, sealing = _sealguard(root, "seal")
    assert code == 65 and sealing <= LIMIT_MIB
    (root / "data/size").write_text("0")  # a report sealguard can read: seal it
    assert _sealguard(root, "seal")[0] == 0
    (root / "data/size").write_text("100")  # the product now writes 100 MiB into it
    code, observing = _sealguard(root, "observe")
    assert code == 2 and observing <= LIMIT_MIB
    probe = _events(root)[-1]["probes"][0]  # type: ignore[index]
    assert probe["report_state"] == "too_large"
    assert probe["report_problem"] == (
        "the report is 100 MiB, more than the 8 MiB sealguard reads; it is kept in the snapshot"
    )


def test_a_report_of_the_costliest_shape_within_the_limits_stays_bounded(tmp_path: Path) -> None:
    """199,000 keys of one object each: about 400,000 values, the most sealguard parses."""
    root = _project(tmp_path, 0, report=True)
    (root / "data/keys").write_text("199000")
    code, sealing = _sealguard(root, "seal")
    assert code == 0 and sealing <= LIMIT_MIB, f"seal peaked at {sealing:.0f} MiB"
    code, observing = _sealguard(root, "observe")
    assert code == 0 and observing <= LIMIT_MIB, f"observe peaked at {observing:.0f} MiB"
