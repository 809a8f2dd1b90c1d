"""Benchmark: `log verify` of one project's 1,000,000 events from the fleet database, against the
same log verified from its files.

The log is built through sealguard's batch path: `ledger.writer.append_many` with 1,000 events
per act (1,000 signed checkpoints), then `ledger.writer.ship_owed` ships it to the database as a
host cut off until then would (in chunks, one transaction). Both runs check every line:

    sealguard log verify --dir LOG --full            the file audit
    sealguard log verify --url URL --origin ORIGIN   the database's rows (always in full)

timed in turns in the same run, best of --rounds, after a round that warms the caches. Goal: the
database within 2x the files. The database is made in the PostgreSQL that --admin-url reaches
(a role that may create databases; the machine's own cluster by default) and kept, with the
log's folder, for the next run.

    python benchmarks/fleet_verify.py [--admin-url URL] [--database sealguard_bench_verify]
        [--dir /tmp/sealguard-bench/fleet-verify] [--events 1000000] [--rounds 3]

benchmarks/fleet.py imports `bench_database`, `project_log` and `verify_times` from here.
"""

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from ledger import timed  # benchmarks/ledger.py, beside this file
from sealguard.fleet.database import connect, install
from sealguard.ledger import Ledger, append_many
from sealguard.ledger.layout import FleetPlace
from sealguard.ledger.reader import read_first_event
from sealguard.ledger.writer import ship_owed

ADMIN_URL = "postgresql:///postgres?host=/var/run/postgresql"
PER_ACT = 1_000


def database_url(admin_url: str, name: str) -> str:
    """`admin_url` pointed at the database `name`."""
    parts = urlsplit(admin_url)  # urlunsplit would drop the empty host of a socket's URL
    return f"{parts.scheme}://{parts.netloc}/{name}" + (f"?{parts.query}" if parts.query else "")


def bench_database(admin_url: str, name: str) -> str:
    """The URL of database `name` with the fleet schema, made if it is not there."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url(admin_url, name)
    with connect(url) as conn:
        install(conn)
        conn.commit()
    return url


def _fields(n: int) -> dict[str, object]:
    return {
        "class": "STABLE",
        "event_id": f"RTE_20261126_180000_{n:08x}",
        "n": n,
        "output_sha256": "ab" * 32,
    }


def project_log(
    folder: Path, url: str, events: int, project: str = "bench", host: str = "h1"
) -> str:
    """A log of `events` events in `folder` (built once), shipped to the database; its origin."""
    ledger = Ledger.in_folder(folder)
    marker = folder / f".built-{events}"
    if not marker.exists():
        print(f"building a {events:,}-event log in {folder} ...", flush=True)
        for start in range(0, events, PER_ACT):
            stop = min(start + PER_ACT, events)
            append_many(ledger, [("observation", _fields(n)) for n in range(start, stop)])
        marker.write_text("ok")
    started = time.perf_counter()
    shipped = ship_owed(replace(ledger, fleet=FleetPlace(url, project, host)))
    if shipped.sent:
        seconds = time.perf_counter() - started
        print(
            f"shipped {shipped.sent:,} lines in {seconds:.1f} s ({shipped.sent / seconds:,.0f} /s)"
        )
    first = read_first_event(ledger.log)
    assert first is not None
    return str(first["log_key"]["origin"])


def verify_times(
    folder: Path, url: str, origin: str, rounds: int = 3
) -> dict[str, tuple[float, float]]:
    """The best wall time (and its CPU time) of each verification; they take turns, so that load
    from elsewhere on a shared machine falls on both alike."""
    sealguard = [sys.executable, "-m", "sealguard", "log", "verify"]
    runs = {
        "files: log verify --dir --full": [*sealguard, "--dir", str(folder), "--full"],
        "database: log verify --url": [*sealguard, "--url", url, "--origin", origin],
    }
    best = dict.fromkeys(runs, (float("inf"), 0.0))
    for round_number in range(rounds + 1):  # the first round warms the caches
        for name, argv in runs.items():
            figures = timed(argv)
            if round_number and figures < best[name]:
                best[name] = figures
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--database", default="sealguard_bench_verify")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/sealguard-bench/fleet-verify"))
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = bench_database(args.admin_url, args.database)
    origin = project_log(args.dir, url, args.events)
    best = verify_times(args.dir, url, origin, args.rounds)
    files = best["files: log verify --dir --full"][0]
    print(f"\nlog verify, one project of {args.events:,} events, best of {args.rounds}:")
    for name, (wall, cpu) in best.items():
        print(f"  {name:34} {wall:6.2f} s  CPU {cpu:5.2f} s  {wall / files:4.2f}x the files")
    print("  (CPU: sealguard's processes only; the database server's is not counted)")
    ratio = best["database: log verify --url"][0] / files
    print(f"database / files: {ratio:.2f}x (goal: at most 2x)")


if __name__ == "__main__":
    main()
