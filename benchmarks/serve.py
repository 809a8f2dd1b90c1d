"""Benchmark: what `sealguard serve` answers cost with a long history behind it.

The projects are benchmarks/history.py's (a governed project given N past STABLE observations,
built once and cached under --dir). For each size, on a copy that a real `log verify` and a
real `observe` have checked: `sealguard serve` is started, and timed over HTTP on loopback:

* the first `/api/status` (the observation index is built from the whole log),
* then, best of R: `/api/status`, `/api/observations?limit=50` (what the live page asks),
  `/metrics`, `/api/log` (the live page's poll) and `/api/events/ID` (the last observation),
* `/report.html` (the page is made once per log version: the first time, then cached),
* a real `observe`, then the first `/api/status` after it (the index reads only what it added)
  and the first `/report.html` (the page made again);
* the peers in the same run: `sealguard status --json` and `sealguard report -o`, each a fresh
  process, as a script or a cron job would get the same answers; the ratios are printed.

    python benchmarks/serve.py [--dir /tmp/sealguard-history] [--sizes 10,100000] [--rounds 5]
                               [--work /tmp/sealguard-serve-bench]
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import history  # the built projects are history.py's


def timed(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    answer = client.get(url)
    seconds = time.perf_counter() - started
    if answer.status_code != 200:
        raise history.BenchError(f"{url}: HTTP {answer.status_code}: {answer.text[:500]}")
    return seconds


def measure(built: history.Built, work: Path, rounds: int) -> dict[str, float]:
    """Time the answers on a copy of the built project in `work` (the cache is only read)."""
    shutil.rmtree(work, ignore_errors=True)
    work.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(built.project), str(work)], check=True)
    history.sealguard(work, "log", "verify")
    history.observe_stable(work)
    argv = [sys.executable, "-m", "sealguard", "--project", str(work), "serve",
            "--bind", "127.0.0.1:0"]  # fmt: skip
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = server.stdout.readline().split()[1]
        with httpx.Client(timeout=120) as client:
            figures = {"first status": timed(client, base + "api/status")}
            figures["first report.html"] = timed(client, base + "report.html")
            last = client.get(base + "api/observations?limit=1").json()["observations"][0]
            paths = {
                "report.html (made already)": "report.html",
                "status": "api/status",
                "observations (50)": "api/observations?limit=50",
                "metrics": "metrics",
                "log (poll)": "api/log",
                "event": f"api/events/{last['event_id']}",
            }
            for name, path in paths.items():
                figures[name] = min(timed(client, base + path) for _ in range(rounds))
            history.observe_stable(work)
            figures["status after observe"] = timed(client, base + "api/status")
            figures["report.html after observe"] = timed(client, base + "report.html")
    finally:
        server.terminate()
        server.wait()
    # the peers, in the same run: the commands the dashboard spares (a fresh process each)
    figures["peer: `status --json`"] = min(
        history.sealguard(work, "status", "--json")[0] for _ in range(rounds)
    )
    page = work.parent / f"{work.name}-report.html"
    figures["peer: `report -o`"] = min(
        history.sealguard(work, "report", "-o", str(page), ok=(0, 3))[0] for _ in range(rounds)
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/sealguard-history"))
    parser.add_argument("--sizes", default="10,100000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/sealguard-serve-bench"))
    args = parser.parse_args()
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    results = {}
    try:
        for size in sizes:
            built = history.ensure_built(args.dir, size, rebuild=False)
            print(f"measuring {size:,} past observations ...", flush=True)
            results[size] = measure(built, args.work / f"n{size}", args.rounds)
    except history.BenchError as exc:
        raise SystemExit(f"serve benchmark: {exc}") from None
    names = list(next(iter(results.values())))
    print(f"\n| request | {' | '.join(f'{s:,} observations' for s in sizes)} |")
    print(f"|---|{'---|' * len(sizes)}")
    for name in names:
        print(f"| {name} | {' | '.join(f'{results[s][name] * 1000:.1f} ms' for s in sizes)} |")
    for size in sizes:
        got = results[size]
        status, report = got["peer: `status --json`"], got["peer: `report -o`"]
        print(
            f"{size:,}: /api/status {status / got['status']:.0f}x faster than `status --json`; "
            f"/report.html {report / got['report.html (made already)']:.0f}x (made) and "
            f"{report / got['report.html after observe']:.1f}x (after an observation) faster "
            "than `report -o`"
        )


if __name__ == "__main__":
    main()
