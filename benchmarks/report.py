"""Benchmark: `sealguard report` on long histories, against peers reading the same log, and the
page's time to render in chromium.

Issue 12, item 1: a 100,000-observation history stays fast to report and the page stays usable;
item 6: it renders in a browser in under 2 s.

The histories are benchmarks/history.py's (its builder, its cache folder: a history built for
one benchmark serves the other). For each size the built project is copied to a folder of this
benchmark's own (`report-work`), `log verify` must pass on the copy, and then, each a fresh
process, in the same run:

* `report` cold: the first report of the copy, after a `verify` left the log's verified state
  and the journal's digest as every observation leaves them: it reads the whole log once to
  make the report's own cache (every observation's row, at the verified state);
* `report` warm: best of R, as every later report runs (the audit, the caches, the lines after);
* the peers, reading the same log, best of R: `sealguard log show --json` (the same events, as
  JSON) and, where installed, `jq -c . GOVERNANCE_LOG.ndjson` (every line parsed and printed);
* at the largest size, the page in Debian's chromium through Playwright: from navigation to the
  load event and a forced layout (the body's height read), best of R; and its size in bytes.

    python benchmarks/report.py [--dir /tmp/sealguard-history] [--sizes 10,10000,100000]
                                [--rounds 3] [--rebuild]

Run it on a quiet machine (it prints the load average before and after).
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from history import Built, ensure_built  # benchmarks/history.py: its builder, reused

CHROMIUM = os.environ.get("SEALGUARD_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [  # tests/browser.py's
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]  # fmt: skip
RENDER_GOAL = 2.0  # seconds


def _timed(argv: Sequence[str], ok: Sequence[int] = (0,)) -> float:
    started = time.perf_counter()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    done = subprocess.run(list(argv), check=False, **quiet)  # type: ignore[call-overload]
    seconds = time.perf_counter() - started
    if done.returncode not in ok:
        raise SystemExit(f"report benchmark: {' '.join(argv)} exited {done.returncode}: "
                         f"{done.stderr.decode(errors='replace').strip()}")  # fmt: skip
    return seconds


def _sealguard(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "sealguard", "--project", str(project), *args]


@dataclass
class Figures:
    size: int
    log_bytes: int
    cold: float = 0.0
    warm: list[float] = field(default_factory=list)
    show: list[float] = field(default_factory=list)
    jq: list[float] = field(default_factory=list)
    page_bytes: int = 0
    render: list[float] = field(default_factory=list)


def _copy(built: Built) -> Path:
    work = built.home / "report-work"
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run(["cp", "-a", str(built.project), str(work)], check=True)
    return work


def measure(built: Built, rounds: int, render: bool) -> Figures:
    work = _copy(built)
    log = work / "governance" / "runtime" / "GOVERNANCE_LOG.ndjson"
    figures = Figures(built.size, log.stat().st_size)
    page = work / "report.html"  # in the copy, removed with it
    print("  checking the copy: log verify ...", flush=True)
    _timed(_sealguard(work, "log", "verify"))
    print(f"  timing: report (cold, then warm x {rounds}), log show --json, jq ...", flush=True)
    figures.cold = _timed(_sealguard(work, "report", "-o", str(page)))
    figures.warm = [_timed(_sealguard(work, "report", "-o", str(page))) for _ in range(rounds)]
    shell = ["sh", "-c", 'exec "$@" > /dev/null', "sh"]
    figures.show = [_timed([*shell, *_sealguard(work, "log", "show", "--json")])
                    for _ in range(rounds)]  # fmt: skip
    if shutil.which("jq"):
        figures.jq = [_timed([*shell, "jq", "-c", ".", str(log)]) for _ in range(rounds)]
    figures.page_bytes = page.stat().st_size
    if render:
        figures.render = render_times(page, rounds)
    return figures


def render_times(page: Path, rounds: int) -> list[float]:
    """Navigation to the load event, then a forced layout, in a fresh page each round."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS)  # fmt: skip
        for _ in range(rounds):
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            started = time.perf_counter()
            tab.goto(page.as_uri(), wait_until="load")
            tab.evaluate("document.body.getBoundingClientRect().height")
            times.append(time.perf_counter() - started)
            tab.close()
        browser.close()
    return times


def _load() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def show(all_figures: list[Figures], rounds: int) -> None:
    print("\nhistory      log bytes   report cold  report warm  log show --json       jq"
          "   warm/show  warm/jq  page bytes")  # fmt: skip
    for f in all_figures:
        warm, peer = min(f.warm), min(f.show)
        jq = f"{min(f.jq):8.3f} s" if f.jq else "       —  "
        jq_ratio = f"{warm / min(f.jq):7.2f}x" if f.jq else "      —"
        ratio = warm / peer
        print(f"{f.size:>7,}  {f.log_bytes:>13,}  {f.cold:9.3f} s  {warm:9.3f} s  "
              f"{peer:13.3f} s  {jq}  {ratio:9.2f}x  {jq_ratio}  {f.page_bytes:>10,}")  # fmt: skip
    for f in all_figures:
        if f.render:
            best = min(f.render)
            verdict = "ok" if best < RENDER_GOAL else "MISSED"
            runs = " ".join(f"{t:.3f}" for t in f.render)
            goal = f"{verdict} < {RENDER_GOAL:g} s"
            print(f"\nthe page of {f.size:,} observations in chromium (load event + layout): "
                  f"best {best:.3f} s ({goal}); every run: {runs}")  # fmt: skip
    print(f"\nwarm and peers: best of {rounds}, each a fresh process; cold: the first report of "
          f"a fresh copy (it makes its cache of rows)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/sealguard-history"))
    parser.add_argument("--sizes", default="10,10000,100000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="build even when cached")
    args = parser.parse_args()
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    print(f"load average: {_load()}")
    figures = []
    for size in sizes:
        built = ensure_built(args.dir, size, args.rebuild)
        print(f"measuring {size:,} past observations ...", flush=True)
        figures.append(measure(built, args.rounds, render=size == sizes[-1]))
        shutil.rmtree(built.home / "report-work", ignore_errors=True)
    show(figures, args.rounds)
    print(f"load average now: {_load()}")


if __name__ == "__main__":
    main()
