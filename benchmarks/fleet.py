"""Benchmark: the fleet ledger in PostgreSQL under many observers at once.

Issue 13, item 6, part 1 (appends). O observer processes (default 16) each journal A acts
(default 200; --full 1,000) into their own project's file ledger with `[ledger] url` set, all
against one real PostgreSQL server, at the same time. Goal: at least 2,000 appended events/s in
all. Each observer is its own project x host (a project sealed with the real CLI, one `echo ok`
probe). An act is what a plain STABLE observation journals, through sealguard's own write path
(observe/observation.py `_journal`): inside `ledger.one_checkpoint`, `runtime.write_files` for
the event file (which journals runtime_writing), then `ledger.append_many` of its runtime_file
and the runtime_event: 3 lines, one local checkpoint, one shipment. The event's fields are those
of a real `sealguard observe` on a scratch project, with a fresh id per act. The shipment
(`fleet.shipping.ship`, which the writer calls after the local checkpoint, under its lock) is
timed by wrapping that function in each observer process; no sealguard code is changed.

Peers, in the same run:

* files only: the same observers and acts with no `[ledger] url` (the ratio is the database's
  cost on the act);
* the shipments alone: each observer's log, as the run left it, shipped again act by act into
  a fresh database by the same `shipping.ship` (connection, enrolment check, the lines and the
  checkpoint through `sealguard.append`), from O processes, without the local file work: what
  the database side allows when every host does its file work on its own machine, as a real
  fleet does (here the observers, the server and the peers share the machine's cores);
* the same calls of `sealguard.append` over one connection per process kept open;
* plain INSERTs (pgbench, O clients): the same number of rows of the same sizes per
  transaction into a plain table with a primary key: what the server itself allows.

The database is made fresh for each figure (CREATE DATABASE as the connecting role, which must
be allowed to; `sealguard fleet init`'s schema) and dropped after. Figures: events and acts per
second in all (wall time from the start signal to the last observer's end), p50 and p99 of one
act and of one shipment, every figure with the machine's load average (the machine may be
shared; the ratios hold better than the absolute figures).

    python benchmarks/fleet.py [--observers 16] [--acts 200] [--full] [--dir /tmp/sealguard-fleet]
                               [--pghost /var/run/postgresql] [--profile FILE]
"""

import argparse
import contextlib
import dataclasses
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Event as StartSignal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from sealguard import ledger, runtime
from sealguard.config import load_config
from sealguard.events import new_id
from sealguard.fleet import database, shipping
from sealguard.ledger import note
from sealguard.ledger.canonical import decode_line
from sealguard.ledger.layout import FleetPlace, Ledger
from sealguard.project import Project

EVENTS_GOAL = 2_000  # appended events per second, in all
FULL_ACTS = 1_000
CONFIG = """[seal]
paths = ["src/**"]

[[probe]]
name = "ok"
command = ["echo", "ok"]
report = "text"
timeout = "1m"
"""
FLEET = """
[ledger]
url = "{url}"
project = "{project}"
host = "{host}"
"""


class BenchError(Exception):
    """The benchmark cannot go on (a command failed, a figure would be wrong)."""


# -- the server --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    host: str  # a socket folder or a host name
    port: int | None

    def url(self, dbname: str) -> str:
        port = f"&port={self.port}" if self.port else ""
        return f"postgresql:///{dbname}?host={self.host}{port}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url("postgres"), autocommit=True)


@contextlib.contextmanager
def fresh_database(server: Server, schema: bool = True) -> Iterator[str]:
    """A new database (with the fleet schema), dropped on leaving: its URL."""
    name = f"sgbench_{uuid.uuid4().hex[:12]}"
    with server.admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = server.url(name)
        if schema:
            with database.connect(url) as conn:
                database.install(conn)
                conn.commit()
        yield url
    finally:
        with server.admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


# -- projects ----------------------------------------------------------------------------------


def sealguard(project: Path, *args: str) -> str:
    argv = [sys.executable, "-m", "sealguard", "--project", str(project), *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip()[-1500:]
        raise BenchError(
            f"`sealguard {' '.join(args)}` on {project} exit {done.returncode}:\n{said}"
        )
    return done.stdout


def make_project(root: Path, fleet: str = "") -> Path:
    """A small product (3 sealed files, one instant probe), sealed with the real CLI."""
    for n in range(3):
        path = root / "src" / f"module{n}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"VALUE = {n}\n")
    (root / "governance").mkdir()
    (root / "governance" / "sealguard.toml").write_text(CONFIG + fleet)
    sealguard(root, "seal")
    return root


def make_projects(folder: Path, count: int, url: str | None) -> list[Path]:
    """`count` sealed projects, each its own project x host in the fleet when `url` is set;
    sealed two at a time (the machine's cores)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    roots = [folder / f"p{n:02d}" for n in range(count)]

    def config(n: int) -> str:
        return FLEET.format(url=url, project=f"bench-p{n:02d}", host=f"h{n:02d}") if url else ""

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda n: make_project(roots[n], config(n)), range(count)))


@dataclass(frozen=True)
class Template:
    """What one real plain observation journaled: its RUNTIME_EVENT fields and event file."""

    data: dict[str, Any]

    def act(self) -> tuple[str, dict[str, Any], bytes]:
        now = datetime.now(UTC)
        event_id = new_id("RTE", now)
        data = {**self.data, "event_id": event_id, "observed_at": f"{now:%Y-%m-%dT%H:%M:%SZ}"}
        content = json.dumps(data, indent=1, sort_keys=True).encode()
        return event_id, data, content


def observed_template(folder: Path) -> Template:
    """Two real observations of a scratch project (the first keeps the day's snapshot); the
    second, a plain one, is the template."""
    root = make_project(folder)
    sealguard(root, "observe")
    sealguard(root, "observe")
    log = (root / "governance" / "runtime" / "GOVERNANCE_LOG.ndjson").read_bytes()
    last = decode_line(log.splitlines()[-1])
    if last.get("type") != "runtime_event" or last.get("classification") != "STABLE":
        raise BenchError(f"{root}: the template observation is not a STABLE runtime_event")
    return Template({k: v for k, v in last.items() if k not in ("seq", "ts", "type")})


# -- the observers -----------------------------------------------------------------------------


@dataclass
class Timings:
    """What one process measured: each act's and each shipment's seconds, its CPU seconds."""

    acts: list[float] = field(default_factory=list)
    ships: list[float] = field(default_factory=list)
    warnings: int = 0
    cpu: float = 0.0
    ended: float = 0.0

    def begin(self) -> None:
        self.cpu = -_cpu()

    def end(self) -> None:
        self.ended = time.perf_counter()
        self.cpu += _cpu()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed_ship(timings: Timings) -> None:
    """Wrap `shipping.ship` (the writer calls it through the module) to time each shipment,
    and count the warnings of failed ones."""
    real_ship, real_warn = shipping.ship, shipping.warn

    def ship(*args: Any, **kwargs: Any) -> shipping.Shipped:
        started = time.perf_counter()
        try:
            return real_ship(*args, **kwargs)
        finally:
            timings.ships.append(time.perf_counter() - started)

    def warn(message: str) -> None:
        timings.warnings += 1
        real_warn(message)

    shipping.ship, shipping.warn = ship, warn  # type: ignore[assignment]


def one_act(project: Project, ledger_: Ledger, template: Template) -> None:
    """What a plain observation journals (observe/observation.py `_journal`), in one act."""
    event_id, data, content = template.act()
    with ledger.one_checkpoint(ledger_):
        written = runtime.write_files(ledger_, {project.event_file(event_id): content})
        ledger.append_many(ledger_, [*written, ("runtime_event", data)])


def _observer(root: str, acts: int, template: Template, start: StartSignal, out: Any) -> None:
    project = Project(Path(root))
    ledger_ = project.ledger(load_config(project.config_file))
    timings = Timings()
    _timed_ship(timings)
    start.wait()
    timings.begin()
    for _ in range(acts):
        started = time.perf_counter()
        one_act(project, ledger_, template)
        timings.acts.append(time.perf_counter() - started)
    timings.end()
    out.send(timings)


def run_processes(
    target: Callable[..., None], jobs: Sequence[tuple[Any, ...]]
) -> tuple[float, list[Timings]]:
    """Fork one process per job and start them at once: (wall seconds from the start to the
    last one's end, each one's timings)."""
    context = multiprocessing.get_context("fork")
    start = context.Event()
    pipes, procs = [], []
    for job in jobs:
        receiver, sender = context.Pipe(duplex=False)
        proc = context.Process(target=target, args=(*job, start, sender))
        proc.start()
        pipes.append(receiver)
        procs.append(proc)
    time.sleep(1.0)  # every process forked, set up and waiting
    started = time.perf_counter()
    start.set()
    results = [pipe.recv() for pipe in pipes]
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise BenchError(f"a benchmark process exit {proc.exitcode}")
    return max(r.ended for r in results) - started, results


# -- the database side alone: the same shipments, without the local file work -----------------


@dataclass(frozen=True)
class Shipment:
    """One act's shipment, as the writer hands it to `shipping.ship`."""

    first: int  # the first line it carries
    lines: list[bytes]
    closing: shipping.Closing


def shipments(root: Path) -> list[Shipment]:
    """Each checkpoint of the log in turn, with the lines since the one before."""
    project = Project(root)
    ledger_ = project.ledger(load_config(project.config_file))
    lines = log_lines(root)
    ends = [0]
    for line in lines:
        ends.append(ends[-1] + len(line) + 1)
    public = note.parse_verifier_key(decode_line(lines[0])["log_key"]["verifier_key"])[1]
    found, done = [], 0
    for text in note.split_history(ledger_.history.read_text()):
        checkpoint = note.parse(text)
        origin, size = checkpoint.origin, checkpoint.size
        key = note.verifier_key(origin, public)
        closing = shipping.Closing(origin, key, checkpoint.note(), size, ends[size])
        found.append(Shipment(done, lines[done:size], closing))
        done = size
    return found


def _shipper(root: str, url: str, worker: int, start: StartSignal, out: Any) -> None:
    """Ship the log's acts again, one `shipping.ship` each, into the database at `url`."""
    project = Project(Path(root))
    ledger_ = dataclasses.replace(
        project.ledger(load_config(project.config_file)),
        fleet=FleetPlace(url, f"replay-p{worker:02d}", f"h{worker:02d}"),
    )
    ledger_.shipped.unlink(missing_ok=True)
    acts = shipments(Path(root))
    timings = Timings()
    fd = os.open(ledger_.log, os.O_RDONLY)
    start.wait()
    timings.begin()
    for act in acts:
        started = time.perf_counter()
        shipping.ship(ledger_, fd, act.closing)
        timings.ships.append(time.perf_counter() - started)
    timings.end()
    os.close(fd)
    out.send(timings)


def _appender(root: str, url: str, worker: int, start: StartSignal, out: Any) -> None:
    """The same calls of `sealguard.append`, one transaction each, over one kept connection."""
    acts = shipments(Path(root))
    first = acts[0].closing
    timings = Timings()
    with database.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT * FROM sealguard.enrol(%s, %s, %s, %s, NULL)",
            (first.origin, first.log_key, f"append-p{worker:02d}", f"h{worker:02d}"),
        )
        start.wait()
        timings.begin()
        for act in acts:
            started = time.perf_counter()
            answer = conn.execute(
                "SELECT status, reason, size FROM sealguard.append(%s, %s, %s::bytea[], %s)",
                (first.origin, act.first, act.lines, act.closing.note),
            ).fetchone()
            if answer is None or answer[0] != 200:
                raise BenchError(f"{root}: sealguard.append refused: {answer}")
            timings.ships.append(time.perf_counter() - started)
        timings.end()
    out.send(timings)


PGBENCH = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
PLAIN_TABLE = (
    "CREATE TABLE plain (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, origin int NOT NULL,"
    " line bytea NOT NULL, leaf bytea NOT NULL)"
)


def pgbench(server: Server, clients: int, acts: int, sizes: Sequence[int], connect: bool) -> float:
    """Seconds pgbench takes to insert `acts` transactions from each of `clients`, each the
    rows of one act (these line sizes) into a plain table (`connect`: a new connection per
    transaction, as an observation's own process has)."""
    rows = "".join(
        f"INSERT INTO plain (origin, line, leaf) VALUES (:client_id, repeat('x', {size})::bytea,"
        f" sha256(repeat('x', {size})::bytea));\n"
        for size in sizes
    )
    with fresh_database(server, schema=False) as url, tempfile.TemporaryDirectory() as scratch:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(PLAIN_TABLE)
        script = Path(scratch) / "act.sql"
        script.write_text(f"BEGIN;\n{rows}END;\n")
        dbname = url.split("///", 1)[1].split("?", 1)[0]
        argv = [PGBENCH, "-n", "-h", server.host, "-c", str(clients), "-j", "2"]
        argv += ["-t", str(acts), "-f", str(script), *(["-C"] if connect else [])]
        argv += [*(["-p", str(server.port)] if server.port else []), dbname]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchError(f"pgbench exit {done.returncode}: {done.stderr[-800:]}")
    for line in done.stdout.splitlines():
        if line.startswith("tps = "):
            return clients * acts / float(line.split()[2])
    raise BenchError(f"pgbench printed no tps: {done.stdout[-800:]}")


# -- checks ------------------------------------------------------------------------------------


def log_lines(root: Path) -> list[bytes]:
    return (root / "governance" / "runtime" / "GOVERNANCE_LOG.ndjson").read_bytes().splitlines()


def check_database(url: str, roots: Sequence[Path]) -> None:
    """Every log's lines are in the database, in order, byte for byte, and its last checkpoint
    accepted: nothing lost, doubled or reordered."""
    with database.connect(url) as conn:
        held = {
            row[0]: (row[1], row[2])
            for row in conn.execute(
                "SELECT l.origin, l.size, (SELECT max(c.size) FROM sealguard.checkpoints c"
                " WHERE c.origin = l.origin) FROM sealguard.logs l"
            )
        }
        for root in roots:
            lines = log_lines(root)
            origin = decode_line(lines[0])["log_key"]["origin"]
            size, checkpoint = held.get(origin, (0, 0))
            if size != len(lines) or checkpoint != len(lines):
                raise BenchError(
                    f"{root}: the database holds {size} lines (checkpoint {checkpoint}), "
                    f"the log {len(lines)}"
                )
            rows = conn.execute(
                "SELECT line FROM sealguard.entries WHERE origin = %s ORDER BY seq", (origin,)
            ).fetchall()
            if [bytes(row[0]) for row in rows] != lines:
                raise BenchError(f"{root}: the database's lines differ from the log's")


# -- the server's CPU --------------------------------------------------------------------------


def _stat(pid: str) -> tuple[int, int, int] | None:
    """(parent pid, own CPU ticks, reaped children's CPU ticks) of a process, from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def server_cpu(server: Server) -> float | None:
    """CPU seconds the whole local server has used (its live processes, and the backends that
    ended, which the postmaster reaped); None when the server is not on this machine. Other
    databases' work on the same server counts too."""
    try:
        with server.admin() as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
        own = _stat(str(row[0])) if row else None
    except psycopg.Error:
        return None
    if own is None:
        return None
    postmaster, ticks = own[0], 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        stat = _stat(pid)
        if stat is not None and int(pid) == postmaster:
            ticks += stat[1] + stat[2]
        elif stat is not None and stat[0] == postmaster:
            ticks += stat[1]
    return ticks / os.sysconf("SC_CLK_TCK")


# -- the figures -------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


@dataclass(frozen=True)
class Figure:
    name: str
    seconds: float  # wall, from the start to the last process's end
    acts: int
    events: int
    act_times: list[float] = field(default_factory=list)
    ship_times: list[float] = field(default_factory=list)
    client_cpu: float | None = None  # CPU seconds of the observer (or shipper) processes
    server_cpu: float | None = None  # CPU seconds of the server meanwhile
    load: float = 0.0  # the 1-minute load average when it ended
    warnings: int = 0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def acts_per_second(self) -> float:
        return self.acts / self.seconds


def measured(
    name: str,
    server: Server,
    target: Callable[..., None],
    jobs: Sequence[tuple[Any, ...]],
    events: Callable[[], int],
) -> Figure:
    """Run the processes; the figure, the server's CPU meanwhile included."""
    before_events, before_cpu = events(), server_cpu(server)
    seconds, results = run_processes(target, jobs)
    after_cpu = server_cpu(server)
    used = after_cpu - before_cpu if after_cpu is not None and before_cpu is not None else None
    return Figure(
        name,
        seconds,
        sum(max(len(r.acts), len(r.ships)) for r in results),
        events() - before_events,
        [t for r in results for t in r.acts],
        [t for r in results for t in r.ships],
        sum(r.cpu for r in results),
        used,
        os.getloadavg()[0],
        sum(r.warnings for r in results),
    )


def _ms(values: Sequence[float], fraction: float) -> str:
    return f"{percentile(values, fraction) * 1000:.1f}" if values else "-"


def _per_act(cpu: float | None, acts: int) -> str:
    return f"{cpu / acts * 1000:.1f}" if cpu is not None else "-"


def print_figures(figures: Sequence[Figure], peer: Figure) -> None:
    head = (
        f"{'':46} {'events/s':>8} {'acts/s':>7} {'x files':>7} {'act p50':>7} {'p99':>6}"
        f" {'ship p50':>8} {'p99':>6} {'cpu/act':>7} {'server':>6} {'load':>5}"
    )
    print(f"\n{head}\n{'':46} {'':>8} {'':>7} {'':>7} {'ms':>7} {'ms':>6} {'ms':>8} {'ms':>6}"
          f" {'ms':>7} {'ms':>6}")  # fmt: skip
    for f in figures:
        print(
            f"{f.name:46} {f.events_per_second:8.0f} {f.acts_per_second:7.0f}"
            f" {f.events_per_second / peer.events_per_second:6.2f}x"
            f" {_ms(f.act_times, 0.5):>7} {_ms(f.act_times, 0.99):>6}"
            f" {_ms(f.ship_times, 0.5):>8} {_ms(f.ship_times, 0.99):>6}"
            f" {_per_act(f.client_cpu, f.acts):>7} {_per_act(f.server_cpu, f.acts):>6}"
            f" {f.load:5.2f}"
        )


def appends(args: argparse.Namespace, server: Server, folder: Path) -> list[Figure]:
    """Part 1: the observers with and without the database, and the database side alone."""
    acts, count = args.acts, args.observers
    template = observed_template(folder / "template")
    files_roots = make_projects(folder / "files", count, None)
    total = lambda roots: lambda: sum(len(log_lines(root)) for root in roots)  # noqa: E731
    jobs = [(str(root), acts, template) for root in files_roots]
    files = measured("files only (no [ledger] url)", server, _observer, jobs, total(files_roots))
    figures = [files]
    with fresh_database(server) as url:
        roots = make_projects(folder / "fleet", count, url)
        jobs = [(str(root), acts, template) for root in roots]
        fleet = measured(
            "fleet: files + shipment (16 observers)", server, _observer, jobs, total(roots)
        )
        check_database(url, roots)
    figures.insert(0, fleet)
    # the replays ship every act of the files-only logs, the seal's too: all their lines
    lines = sum(len(log_lines(root)) for root in files_roots)
    for name, target in (
        ("shipments alone: shipping.ship, files' logs", _shipper),
        ("sealguard.append alone, kept connections", _appender),
    ):
        with fresh_database(server) as url:
            jobs = [(str(root), url, worker) for worker, root in enumerate(files_roots)]
            figure = measured(name, server, target, jobs, lambda: 0)
            figures.append(dataclasses.replace(figure, events=lines))
    sizes = [len(line) for line in log_lines(files_roots[0])[-3:]]
    for name, connect in (("plain INSERTs (pgbench), kept connections", False),
                          ("plain INSERTs (pgbench), a connection each", True)):  # fmt: skip
        seconds = pgbench(server, count, acts, sizes, connect)
        figures.append(Figure(name, seconds, count * acts, count * acts * len(sizes)))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--observers", type=int, default=16)
    parser.add_argument("--acts", type=int, default=200, help="acts per observer (default 200)")
    parser.add_argument("--full", action="store_true", help=f"{FULL_ACTS:,} acts per observer")
    parser.add_argument("--dir", type=Path, default=None, help="where the projects go (kept)")
    parser.add_argument("--pghost", default="/var/run/postgresql")
    parser.add_argument("--pgport", type=int, default=None)
    args = parser.parse_args()
    if args.full:
        args.acts = FULL_ACTS
    server = Server(args.pghost, args.pgport)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="sealguard-bench-fleet-"))
    try:
        print(
            f"{args.observers} processes x {args.acts:,} acts, {os.cpu_count()} cores, "
            f"load {os.getloadavg()[0]:.2f} at the start"
        )
        figures = appends(args, server, folder)
        print_figures(figures, figures[1])
        fleet = figures[0]
        if fleet.warnings:
            print(f"{fleet.warnings} shipments failed (warned; the next act shipped them)")
        goal = "reached" if fleet.events_per_second >= EVENTS_GOAL else "NOT reached"
        print(f"\ngoal: at least {EVENTS_GOAL:,} appended events/s in all: {goal}")
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
