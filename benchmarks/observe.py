"""Benchmark: the overhead of `sealguard observe` over running the same probe bare.

A pytest project with a few hundred tests is sealed with one JUnit probe; then, in one run,
the probe command is timed alone and `sealguard observe` (invariants before and after, the
probe, classification, event, journal) is timed on the same project, best of 3 each. Goal: at
most 5 % plus 0.3 s.

    python benchmarks/observe.py [--tests 300]
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEST = "def test_{n}():\n    assert sum(range({n})) == {total}\n"


def make_project(root: Path, tests: int) -> list[str]:
    (root / "tests").mkdir(parents=True)
    for chunk in range(0, tests, 50):
        body = "".join(
            TEST.format(n=n, total=sum(range(n))) for n in range(chunk, min(chunk + 50, tests))
        )
        (root / "tests" / f"test_part{chunk // 50}.py").write_text(body)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--junitxml={report}",
        "tests",
    ]
    (root / "governance").mkdir()
    (root / "governance" / "sealguard.toml").write_text(
        '[seal]\npaths = ["tests/**"]\nexclude = ["**/__pycache__/**"]\n\n'
        f'[[probe]]\nname = "unit"\ncommand = {json.dumps(command)}\n'
        'report = "junit-xml"\ntimeout = "5m"\n'
    )
    subprocess.run(
        [sys.executable, "-m", "sealguard", "--project", str(root), "seal"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return command


def best_of(rounds: int, argv: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        done = subprocess.run(
            argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        best = min(best, time.perf_counter() - started)
        if done.returncode not in ok:
            raise SystemExit(
                f"{argv[:4]} failed ({done.returncode}): {done.stderr.decode()[-400:]}"
            )
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sealguard-bench-observe-"))
    try:
        command = make_project(root, args.tests)
        report = root / "bare-report.xml"
        bare = best_of(
            args.rounds, [part.replace("{report}", str(report)) for part in command], root
        )
        observed = best_of(args.rounds, [sys.executable, "-m", "sealguard", "observe"], root)
        overhead = observed - bare
        allowed = bare * 0.05 + 0.3
        print(f"probe alone ({args.tests} pytest tests): {bare:6.3f} s (best of {args.rounds})")
        print(f"sealguard observe:                 {observed:6.3f} s")
        print(
            f"overhead: {overhead:+.3f} s, ratio {observed / bare:.2f}x "
            f"(goal: at most 5 % + 0.3 s = {allowed:.3f} s)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
