"""Benchmark: `sealguard verify` against `sha256sum -c` and `aide --check` on the same trees.

Builds two trees (about 20,000 files / 1 GiB of mixed sizes, and 100,000 files of at most
4 KiB), seals each, then times each tool best of 3 on a warm page cache, in one run, and prints
the ratios and the machine's SHA-256 limit (OpenSSL on one core, times the cores used).

    python benchmarks/verify.py [--dir /tmp/sealguard-bench] [--rounds 3]
"""

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

GiB = 1 << 30
SEALGUARD = [sys.executable, "-m", "sealguard"]


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


def best_of(rounds: int, argv: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> float:
    best = float("inf")
    for _ in range(rounds + 1):  # the first round warms the page cache and is not counted
        started = time.perf_counter()
        done = subprocess.run(
            argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        elapsed = time.perf_counter() - started
        if done.returncode not in ok_codes:
            raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.decode()[:400]}")
        best = min(best, elapsed) if _ else best
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


def compare(tree: Path, rounds: int, limit: float | None) -> None:
    total = sum(f.stat().st_size for f in (tree / "src").rglob("*") if f.is_file())
    results = {
        "sealguard verify": best_of(rounds, [*SEALGUARD, "--project", str(tree), "verify"], tree),
        "sha256sum -c": best_of(
            rounds, ["sha256sum", "-c", "--quiet", "governance/BASELINE_REF.sha256"], tree
        ),
    }
    if shutil.which("aide"):
        config = aide_config(tree)
        results["aide --check"] = best_of(rounds, ["aide", "--check", "-c", str(config)], tree)
    ours = results["sealguard verify"]
    print(f"\n{tree.name}: {total / GiB:.2f} GiB, best of {rounds}")
    for name, seconds in results.items():
        ratio = "" if name == "sealguard verify" else f"  sealguard is {seconds / ours:.2f}x faster"
        print(f"  {name:18s} {seconds:7.3f} s{ratio}")
    if limit:
        floor = total / limit
        print(f"  hardware limit     {floor:7.3f} s  (sealguard at {floor / ours:.0%} of it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/sealguard-bench"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    limit = sha256_limit(cores)
    print(f"SHA-256 limit: {limit / 1e9:.2f} GB/s ({cores} cores x OpenSSL on one core)")
    big = ensure_tree(args.dir, "mixed-1GiB", mixed_sizes(20_000, GiB, 1), 1)
    small = ensure_tree(
        args.dir, "small-100k", [random.Random(i).randint(1, 4096) for i in range(100_000)], 2
    )
    compare(big, args.rounds, limit)
    compare(small, args.rounds, limit)


if __name__ == "__main__":
    main()
