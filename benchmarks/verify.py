"""Benchmark: `sealguard verify` against its peers and floors on the same trees, in one run.

Builds two trees (about 20,000 files / 1 GiB of mixed sizes, and 100,000 files of at most
4 KiB) and seals each. Then, on a warm page cache, it times in turns (round-robin, so the load
of a shared machine falls on every command alike) and keeps the best of `--rounds`:

* `sealguard verify`, and the same from another source tree with `--compare-src DIR` (for
  example `git archive main src | tar -x -C DIR`, then DIR/src), for before/after figures;
  both with their bytecode cached, as installed packages have it;
* the peers: `sha256sum -c` on the baseline, `aide --check` (sha256 only, when installed);
* the floors: `find src -type f -print0 | xargs -0 -P<cores> -n 5000 sha256sum` (every file
  opened, read and hashed, one process per core), the same with `cat` (read, no hash), and a
  `find` that stats every file and reads none;
* the machine's SHA-256 limit: OpenSSL on one core with 16 KiB blocks, times the cores.

Each line gives wall time, CPU time (user + sys of the command and its children: steadier
than wall time when other work shares the cores) and sealguard's time over that line's.

    python benchmarks/verify.py [--dir /tmp/sealguard-bench] [--rounds 5] [--compare-src DIR]
"""

import argparse
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

GiB = 1 << 30
SEALGUARD = [sys.executable, "-m", "sealguard"]
OURS = "sealguard verify"
XARGS = "xargs floor"


@dataclass
class Command:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    ok_codes: tuple[int, ...] = field(default=(0,))


def build_tree(root: Path, sizes: list[int], seed: int) -> None:
    rng = random.Random(seed)
    block = rng.randbytes(8 << 20)
    for index, size in enumerate(sizes):
        folder = root / "src" / f"d{index % 97:02d}" / f"e{index % 13}"
        folder.mkdir(parents=True, exist_ok=True)
        offset = rng.randrange(0, len(block) - min(size, len(block)) + 1)
        data = (block[offset:] + block) * (size // len(block) + 1)
        (folder / f"f{index:06d}.bin").write_bytes(
            index.to_bytes(8, "little") + data[: max(size - 8, 0)]
        )
    (root / "governance").mkdir(exist_ok=True)
    (root / "governance" / "sealguard.toml").write_text(
        '[seal]\npaths = ["src/**"]\nfiles_only = true\n'
    )


def mixed_sizes(count: int, total: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    raw = [rng.lognormvariate(9.5, 2.0) for _ in range(count)]
    scale = total / sum(raw)
    sizes = [max(1, min(int(r * scale), 64 << 20)) for r in raw]
    sizes[0] += total - sum(sizes)
    return sizes


def ensure_tree(root: Path, name: str, sizes: list[int], seed: int) -> Path:
    tree = root / name
    marker = tree / ".built"
    if not marker.exists():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        print(f"building {tree} ({len(sizes):,} files, {sum(sizes) / GiB:.2f} GiB) ...", flush=True)
        build_tree(tree, sizes, seed)
        subprocess.run(
            [*SEALGUARD, "--project", str(tree), "seal"], check=True, stdout=subprocess.DEVNULL
        )
        marker.write_text("ok")
    return tree


def aide_config(tree: Path) -> Path:
    work = tree.parent / f"{tree.name}.aide"
    work.mkdir(exist_ok=True)
    config = work / "aide.conf"
    config.write_text(
        f"database_in=file:{work}/aide.db\n"
        f"database_out=file:{work}/aide.db.new\n"
        "gzip_dbout=no\nreport_url=stdout\n"
        f"{tree}/src sha256\n"
    )
    if not (work / "aide.db").exists():
        subprocess.run(
            ["aide", "--init", "-c", str(config)], check=False, stdout=subprocess.DEVNULL
        )
        os.replace(work / "aide.db.new", work / "aide.db")
    return config


@dataclass
class Timing:
    wall: float = float("inf")
    cpu: float = float("inf")


def run_once(command: Command, cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + sys of every process it waited for) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command.argv, cwd=cwd, env=command.env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in command.ok_codes:
        raise SystemExit(f"{command.name} failed ({done.returncode}): {done.stderr.decode()[:400]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def best_in_turns(commands: list[Command], cwd: Path, rounds: int) -> dict[str, Timing]:
    """Each command once per round, in turn; the first round warms the page cache."""
    best = {c.name: Timing() for c in commands}
    for round_number in range(rounds + 1):
        for command in commands:
            wall, cpu = run_once(command, cwd)
            if round_number:
                timing = best[command.name]
                timing.wall, timing.cpu = min(timing.wall, wall), min(timing.cpu, cpu)
    return best


def sha256_limit(cores: int) -> float:
    """Bytes per second: OpenSSL's SHA-256 on one core with 16 KiB blocks, times `cores`."""
    done = subprocess.run(
        ["openssl", "speed", "-seconds", "2", "-bytes", "16384", "-evp", "sha256"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = next(ln for ln in done.stdout.splitlines() if ln.lower().startswith("sha256"))
    kilobytes = float(re.findall(r"([\d.]+)k", line)[-1])
    return kilobytes * 1000 * cores


def with_bytecode(pycache: Path) -> dict[str, str]:
    """sealguard's environment: its bytecode cached (the warm-up round writes it, outside the
    source tree), as a pip-installed package has it, even where PYTHONDONTWRITEBYTECODE is set
    (compiling every module at each start would add about 0.1 s to every run)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": str(pycache)}


def commands_for(tree: Path, cores: int, compare_src: Path | None, pycache: Path) -> list[Command]:
    sealguard = [*SEALGUARD, "--project", str(tree), "verify"]
    each = f"find src -type f -print0 | xargs -0 -P{cores} -n 5000"
    commands = [Command(OURS, sealguard, with_bytecode(pycache))]
    if compare_src:
        env = {**with_bytecode(pycache), "PYTHONPATH": str(compare_src)}
        label = compare_src.parent.name if compare_src.name == "src" else compare_src.name
        commands.append(Command(f"{OURS} ({label})", sealguard, env))
    commands += [
        Command("sha256sum -c", ["sha256sum", "-c", "--quiet", "governance/BASELINE_REF.sha256"]),
        Command(XARGS, ["sh", "-c", f"{each} sha256sum >/dev/null"]),
        Command(f"{cores} parallel cats", ["sh", "-c", f"{each} cat >/dev/null"]),
        Command("stat-only find", ["sh", "-c", "find src -type f -printf '%s %m\\n' >/dev/null"]),
    ]
    if shutil.which("aide"):
        config = aide_config(tree)
        commands.append(Command("aide --check", ["aide", "--check", "-c", str(config)]))
    return commands


def compare(tree: Path, rounds: int, limit: float, compare_src: Path | None) -> None:
    cores = len(os.sched_getaffinity(0))
    files = [f for f in (tree / "src").rglob("*") if f.is_file()]
    total = sum(f.stat().st_size for f in files)
    pycache = tree.parent / "pycache"
    timings = best_in_turns(commands_for(tree, cores, compare_src, pycache), tree, rounds)
    ours = timings[OURS].wall
    print(f"\n{tree.name}: {len(files):,} files, {total / GiB:.2f} GiB, best of {rounds}")
    print(f"  {'':28s} {'wall':>8s} {'cpu':>8s}  sealguard's time over this")
    for name, timing in timings.items():
        ratio = "" if name == OURS else f"{ours / timing.wall:.2f}x"
        print(f"  {name:28s} {timing.wall:7.3f}s {timing.cpu:7.3f}s  {ratio}")
    limit_seconds = total / limit
    print(
        f"  {'SHA-256 limit':28s} {limit_seconds:7.3f}s {'':8s}  {ours / limit_seconds:.2f}x: "
        f"sealguard at {limit_seconds / ours:.0%} of the {cores}-core SHA-256 limit"
    )
    print(
        f"  sealguard at {ours / timings[XARGS].wall:.2f}x the xargs floor "
        f"(find src -type f -print0 | xargs -0 -P{cores} -n 5000 sha256sum; cats: the same "
        "with cat; stat-only: find -printf '%s %m')"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/sealguard-bench"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--compare-src", type=Path, help="also time `sealguard verify` with PYTHONPATH=this"
    )
    parser.add_argument("--only", choices=["mixed", "small"], help="time one tree only")
    args = parser.parse_args()
    compare_src = args.compare_src.resolve() if args.compare_src else None
    cores = len(os.sched_getaffinity(0))
    limit = sha256_limit(cores)
    print(f"SHA-256 limit: {limit / 1e9:.2f} GB/s ({cores} cores x OpenSSL on one core)")
    big = ensure_tree(args.dir, "mixed-1GiB", mixed_sizes(20_000, GiB, 1), 1)
    small = ensure_tree(
        args.dir, "small-100k", [random.Random(i).randint(1, 4096) for i in range(100_000)], 2
    )
    for tree, key in ((big, "mixed"), (small, "small")):
        if args.only in (None, key):
            compare(tree, args.rounds, limit, compare_src)


if __name__ == "__main__":
    main()
