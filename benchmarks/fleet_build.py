"""Build a fleet for the benchmarks: N governed projects (one host each) with M events in all,
shipped to a fleet database through sealguard's own write path.

Each project is sealed by `seal` (files only: one sealed file), which enrols its log in the
database. Then its observations are written in acts of `per_act` events by
`ledger.writer.append_many`, which writes them durably, signs one checkpoint per act and ships
the lines with it in one transaction (`sealguard.append`), then reports the head `fleet status`
reads (fleet/summary.py); after each act the log is audited incrementally, as an observation
does, so that the next head folds only the new lines. Every event is the RUNTIME_EVENT of one
real `observe` of a files-only project (about 1 KB a line), with a fresh id and time, 5
minutes apart; the last `drifting` projects end on a PRODUCT_DRIFT (FROZEN, as a drifted host
shows). A real observation writes two more lines (its event file's runtime_writing and
runtime_file); these histories hold observations only, so M lines are M observations.

    from fleet_build import build_fleet  # beside it in benchmarks/ (python benchmarks/X.py)
    roots = build_fleet(url, folder, projects=1000, events=1_000_000, jobs=2)

(1,000 projects and 1,000,000 events: 571 s with 2 processes on the 2-core development
machine, under other work; tests/test_fleet_build.py builds a small one and checks it.)

or, from the shell (the database made first: `sealguard fleet init --url URL`):

    python benchmarks/fleet_build.py --url URL --dir /tmp/fleet [--projects 1000]
        [--events 1000000] [--per-act 1000] [--drifting 10] [--jobs 2] [--status]

`--status` then times `sealguard fleet status --url URL` (a fresh process, best of 5).
"""

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sealguard.config import load_config
from sealguard.events import iso_utc, new_id, to_data
from sealguard.ledger import append_many
from sealguard.ledger.incremental import Policy, audit_log
from sealguard.observe.observation import observe
from sealguard.project import Project
from sealguard.seal.sealing import seal
from sealguard.seal.settings import config_in_force

INTERVAL = timedelta(minutes=5)
FILES_ONLY = '[seal]\npaths = ["src/**"]\nfiles_only = true\n'


@dataclass(frozen=True)
class Plan:
    url: str
    events: int  # lines of the project's log, its seal included
    per_act: int
    drifting: bool


def _tree(root: Path, ledger: str = "") -> Project:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hello')\n")
    (root / "governance").mkdir()
    (root / "governance" / "sealguard.toml").write_text(FILES_ONLY + ledger)
    return Project(root)


def template_event(folder: Path) -> dict[str, Any]:
    """The RUNTIME_EVENT of one real observation of a files-only project (not in the fleet)."""
    project = _tree(folder)
    config = load_config(project.config_file)
    seal(project, config, jobs=1)
    return to_data(observe(project, config, 1).event)


def _observations(
    template: dict[str, Any], count: int, start: datetime, drifting: bool
) -> Iterator[dict[str, Any]]:
    for n in range(count):
        moment = start + n * INTERVAL
        event = {
            **template,
            "event_id": new_id("RTE", moment),
            "observed_at": iso_utc(moment),
            "snapshot": None,
        }
        if drifting and n == count - 1:
            event.update(classification="PRODUCT_DRIFT", severity="major", state_after="FROZEN")
            event["why"] = [
                {"rule": "PD-01", "class": "PRODUCT_DRIFT", "matched": True, "probe": "answer",
                 "detail": "output hash differs from the baseline (benchmark)"},
            ]  # fmt: skip
        yield event


def build_project(root: Path, name: str, plan: Plan, template: dict[str, Any]) -> Path:
    """One project, sealed and given `plan.events` lines in all, every act shipped."""
    ledger_config = f'\n[ledger]\nurl = "{plan.url}"\nproject = "{name}"\nhost = "h1"\n'
    project = _tree(root, ledger_config)
    seal(project, load_config(project.config_file), jobs=1)
    ledger = project.ledger(config_in_force(project))
    count = plan.events - 1
    start = datetime.now(UTC) - (count + 1) * INTERVAL
    observations = _observations(template, count, start, plan.drifting)
    while count > 0:
        act = min(plan.per_act, count)
        append_many(ledger, [("runtime_event", next(observations)) for _ in range(act)])
        audit_log(ledger, 1, Policy())  # as an observation audits: the verified state moves
        count -= act
    return root


def _one(args: tuple[Path, str, Plan, dict[str, Any]]) -> Path:
    return build_project(*args)


def build_fleet(
    url: str,
    folder: Path,
    projects: int,
    events: int,
    *,
    per_act: int = 1000,
    drifting: int = 0,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[Path]:
    """`projects` projects under `folder` (each one host, `h1`), `events` lines in all, shipped
    to the fleet database at `url` (made by `sealguard fleet init`); their roots."""
    if events < projects:
        raise ValueError("at least one event (the seal) per project")
    template = template_event(folder / "_template")
    share, extra = divmod(events, projects)
    work = [
        (
            folder / f"p{i:05d}",
            f"p{i:05d}",
            Plan(url, share + (i < extra), per_act, i >= projects - drifting),
            template,
        )
        for i in range(projects)
    ]
    roots: list[Path] = []
    with ProcessPoolExecutor(jobs) if jobs > 1 else nullcontext() as pool:
        for root in pool.map(_one, work, chunksize=8) if pool else map(_one, work):
            roots.append(root)
            if progress:
                progress(len(roots))
    return roots


def time_status(url: str, rounds: int = 5) -> tuple[float, dict[str, Any]]:
    """`sealguard fleet status --url URL --json` in a fresh process: (best seconds, its output)."""
    best, found = float("inf"), {}
    for _ in range(rounds):
        argv = [sys.executable, "-m", "sealguard", "fleet", "status", "--url", url, "--json"]
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        best = min(best, time.perf_counter() - started)
        if done.returncode not in (0, 3):
            raise SystemExit(f"fleet status exit {done.returncode}: {done.stderr.strip()}")
        found = json.loads(done.stdout)
    return best, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-act", type=int, default=1000)
    parser.add_argument("--drifting", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--status", action="store_true", help="then time `fleet status`")
    args = parser.parse_args()
    started = time.perf_counter()

    def progress(done: int) -> None:
        if done % 50 == 0 or done == args.projects:
            print(f"{done} projects in {time.perf_counter() - started:.0f} s", flush=True)

    build_fleet(
        args.url, args.dir, args.projects, args.events,
        per_act=args.per_act, drifting=args.drifting, jobs=args.jobs, progress=progress,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    print(f"built {args.projects} projects, {args.events:,} events in {seconds:.0f} s")
    if args.status:
        best, found = time_status(args.url)
        print(f"fleet status: {len(found['logs'])} logs, best of 5 {best:.3f} s")


if __name__ == "__main__":
    main()
