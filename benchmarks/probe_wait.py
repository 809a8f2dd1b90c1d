"""Benchmark: what sealguard's probe runner adds to running a command, for a short probe.

In one run, N runs of a 0.2 s probe (`sleep 0.2`) and of an instant one (`true`) go through
sealguard's probe runner (`proc.run_to_files`: its own session, output streamed to files, the
tree looked for survivors and stopped) and through `subprocess.run` of the same command with
its output to the same files (the peer), best of several rounds each. The runner's extra cost
is the wait for the probe's end (woken by the exit, or a sleep loop's latency) and the scans of
/proc that look for what the probe left behind.

    python benchmarks/probe_wait.py [--runs 10] [--rounds 5]
"""

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from sealguard.proc import run_to_files

PROBES = {"sleep 0.2": ["sleep", "0.2"], "true": ["true"]}


class SleepCounter:
    """Counts the sleeps made while it is installed (the runner's, and subprocess's own)."""

    def __init__(self) -> None:
        self.count = 0
        self._sleep = time.sleep

    def __enter__(self) -> "SleepCounter":
        time.sleep = self._counted
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep = self._sleep

    def _counted(self, seconds: float) -> None:
        self.count += 1
        self._sleep(seconds)


def sealguard_runner(argv: list[str], work: Path) -> None:
    outputs = (work / "stdout.txt", work / "stderr.txt")
    with sleeps:
        done = run_to_files(argv, work, os.environ, outputs, timeout=60)
    if done.exit_code != 0 or done.survivors:
        raise SystemExit(f"{argv}: {done}")


def peer(argv: list[str], work: Path) -> None:
    with (work / "stdout.txt").open("wb") as out, (work / "stderr.txt").open("wb") as err:
        subprocess.run(argv, cwd=work, stdout=out, stderr=err, stdin=subprocess.DEVNULL, check=True)


sleeps = SleepCounter()


def round_seconds(runs: int, run: Callable[[list[str], Path], None], argv: list[str],
                  work: Path) -> float:  # fmt: skip
    started = time.perf_counter()
    for _ in range(runs):
        run(argv, work)
    return time.perf_counter() - started


def best_of(rounds: int, runs: int, argv: list[str], work: Path) -> tuple[float, float]:
    """The fastest round of `runs` runs for sealguard and for the peer, in seconds; their rounds
    alternate, so that both see the same load on the machine."""
    ours, theirs = float("inf"), float("inf")
    for _ in range(rounds):
        ours = min(ours, round_seconds(runs, sealguard_runner, argv, work))
        theirs = min(theirs, round_seconds(runs, peer, argv, work))
    return ours, theirs


def scan_seconds(rounds: int) -> float:
    """One pass over /proc as the runner makes one to find a probe's tree (it makes three per
    probe: its children before, and the tree at the probe's end twice): best of `rounds`."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        list(psutil.process_iter(["ppid", "status"]))
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="probe runs per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sealguard-bench-probe-wait-"))
    try:
        print(f"{args.runs} runs per round, best of {args.rounds} rounds")
        for label, argv in PROBES.items():
            sleeps.count = 0
            ours, theirs = best_of(args.rounds, args.runs, argv, work)
            slept = sleeps.count / (args.rounds * args.runs)
            per_run = (ours - theirs) / args.runs * 1000
            print(
                f"{label:>9}: sealguard {ours:6.3f} s, subprocess.run {theirs:6.3f} s, "
                f"ratio {ours / theirs:5.2f}x ({per_run:+.1f} ms per run; "
                f"the runner slept {slept:.1f} times per run)"
            )
        scan = scan_seconds(args.rounds * args.runs) * 1000
        print(f"one scan of /proc ({len(psutil.pids())} processes): {scan:.1f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
