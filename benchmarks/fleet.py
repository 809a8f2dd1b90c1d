"""Benchmark: the fleet ledger in PostgreSQL: appends from many observers at once, `fleet
status` over a large fleet, and `log verify` from the database against the files.

Issue 13, item 6, in one command and one summary of the goals (`--parts` picks some):

1. appends (below): at least 2,000 appended events/s in all;
2. status: `sealguard fleet status` (a fresh process, best of 5) under 1 s over N projects and M
   events (default 100 / 100,000; --full 1,000 / 1,000,000), built through sealguard's own batch
   path by benchmarks/fleet_build.py;
3. verify: `sealguard log verify --url` of one project's M events (default 100,000; --full
   1,000,000) within 2x `log verify --dir --full` of the same log, by benchmarks/fleet_verify.py.

Part 1 (appends). O observer processes (default 16) each journal A acts (default 100; --full
1,000) into their own project's file ledger with `[ledger] url` set, all against one real
PostgreSQL server, at the same time. Each observer is its own project x host (a project sealed
with the real CLI, one `echo ok` probe). An act is what a plain STABLE observation does to its
log, through sealguard's own code (observe/observation.py `_journal`), not the CLI (whose
start-up is not the database's cost): its verify's incremental audit, then inside
`ledger.one_checkpoint`, `runtime.write_files` for the event file (which journals
runtime_writing) and `ledger.append_many` of its runtime_file and the runtime_event: 3 lines,
one local checkpoint, one shipment. The event's fields are those
of a real `sealguard observe` on a scratch project, with a fresh id per act. The shipment
(`fleet.shipping.ship`, which the writer calls after the local checkpoint, under its lock) is
timed by wrapping that function in each observer process; no sealguard code is changed for it.

Each with a connection per act (what `sealguard observe`, one process per act, does) and, where
this sealguard has `shipping.kept_connections`, with one kept connection per observer (a
long-running process). Peers, in the same run:

* files only: the same observers and acts with no `[ledger] url` (the ratio is the database's
  cost on the act);
* one observer alone: the latency of an act and of its shipment without the others queueing;
* the shipments alone: the files-only logs shipped again, act by act, into a fresh database by
  the same `shipping.ship`, from O processes, without the local file work: what the database
  side allows when every host does its file work on its own machine, as in a real fleet (here
  the observers, the server and the peers share the machine's cores);
* plain INSERTs (pgbench, O clients): the rows of one act, of the same sizes, per transaction,
  into a plain table with a primary key: what the server itself allows;
* real `sealguard observe` runs (--cli N, one after the other) without and with the database:
  all an observation does there (its audits hold the log against the database too).

The database is made fresh for each figure (CREATE DATABASE as the connecting role, which must
be allowed to; `sealguard fleet init`'s schema) and dropped after; every observer's lines are
then checked to be in the database, in order, byte for byte. Figures: events and acts per second
in all (wall time from the start signal to the last process's end), p50 and p99 of one act and
of one shipment, CPU per act of the processes measured and of the whole server (read from
/proc: the postmaster's reaped backends included; other databases' work counts too), and the
cores other work kept busy meanwhile (the machine may be shared: CPU per act holds better than
the rates). --pooler HOST[:PORT] sends the observers' shipments through a connection pooler.

    python benchmarks/fleet.py [--full] [--parts appends,status,verify] [--observers 16]
        [--acts 100] [--cli 10] [--status-projects 100] [--status-events 100000]
        [--verify-events 100000] [--dir DIR] [--pghost /var/run/postgresql] [--pgport N]
        [--pooler HOST:PORT]
"""

import argparse
import contextlib
import dataclasses
import functools
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
from urllib.parse import parse_qsl, urlsplit

import psycopg
from psycopg import sql

from history import (
    CONFIG,
)  # benchmarks/history.py, beside this file: one sealed file tree, one probe
from sealguard import ledger, runtime
from sealguard.config import load_config
from sealguard.events import new_id
from sealguard.fleet import database, shipping
from sealguard.ledger import note
from sealguard.ledger.canonical import decode_line
from sealguard.ledger.incremental import Policy, audit_log
from sealguard.ledger.layout import FleetPlace, Ledger
from sealguard.project import Project

EVENTS_GOAL = 2_000  # appended events per second, in all
STATUS_GOAL = 1.0  # seconds for `fleet status`
VERIFY_GOAL = 2.0  # database verify against file verify
FULL_ACTS = 1_000
FULL_PROJECTS, FULL_EVENTS = 1_000, 1_000_000  # fleet status
FULL_VERIFY = 1_000_000  # events of the log verified both ways
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
    pooler: str | None = None  # HOST[:PORT] of a connection pooler the observers go through

    def url(self, dbname: str) -> str:
        port = f"&port={self.port}" if self.port else ""
        return f"postgresql:///{dbname}?host={self.host}{port}"

    def ship_url(self, url: str) -> str:
        """The URL observers ship to: through the pooler, if there is one."""
        if self.pooler is None:
            return url
        host, _, port = self.pooler.partition(":")
        dbname = urlsplit(url).path[1:]
        return f"postgresql:///{dbname}?host={host}" + (f"&port={port}" if port else "")

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

    shipping.ship, shipping.warn = ship, warn


def one_act(project: Project, ledger_: Ledger, template: Template) -> None:
    """What a plain observation does to its log: its verify's incremental audit (which moves the
    digest the shipment's head is folded from), then what it journals (observe/observation.py
    `_journal`), in one act. The audit leaves the database out: holding the log against it is
    the auditor's work, not the act's (the CLI figures have it)."""
    audit_log(dataclasses.replace(ledger_, fleet=None), 1, Policy())
    event_id, data, content = template.act()
    with ledger.one_checkpoint(ledger_):
        written = runtime.write_files(ledger_, {project.event_file(event_id): content})
        ledger.append_many(ledger_, [*written, ("runtime_event", data)])


def kept(keep: bool) -> contextlib.AbstractContextManager[None]:
    """`shipping.kept_connections()` when asked for and this sealguard has it (one before it,
    run through PYTHONPATH for a before/after, has not)."""
    maker = getattr(shipping, "kept_connections", None)
    return maker() if keep and maker is not None else contextlib.nullcontext()


KEEPS = (False, True) if hasattr(shipping, "kept_connections") else (False,)
CONNECTION = {False: "a connection each act", True: "one kept connection"}


@dataclass(frozen=True)
class Observer:
    root: Path
    acts: int
    template: Template
    keep: bool  # one kept connection for all its acts


def _observer(job: Observer, start: StartSignal, out: Any) -> None:
    project = Project(job.root)
    ledger_ = project.ledger(load_config(project.config_file))
    timings = Timings()
    _timed_ship(timings)
    start.wait()
    timings.begin()
    with kept(job.keep):
        for _ in range(job.acts):
            started = time.perf_counter()
            one_act(project, ledger_, job.template)
            timings.acts.append(time.perf_counter() - started)
    timings.end()
    out.send(timings)


@dataclass(frozen=True)
class Run:
    """What the processes of one figure did."""

    seconds: float  # wall, from the start to the last process's end
    acts: int
    act_times: list[float] = field(default_factory=list)
    ship_times: list[float] = field(default_factory=list)
    client_cpu: float = 0.0  # CPU seconds of the processes measured (not the server)
    warnings: int = 0


@dataclass
class Meter:
    """The server's CPU and the machine's busy time, read where a run starts and ends (its
    set-up left out)."""

    server: Server
    marks: list[tuple[float | None, float]] = field(default_factory=list)

    def mark(self) -> None:
        self.marks.append((server_cpu(self.server), machine_busy()))

    def server_cpu(self) -> float | None:
        (first, _), (last, _) = self.marks[0], self.marks[-1]
        return last - first if first is not None and last is not None else None

    def busy(self) -> float:
        return self.marks[-1][1] - self.marks[0][1]


def run_processes(target: Callable[..., None], jobs: Sequence[object], meter: Meter) -> Run:
    """Fork one process per job and start them at once."""
    context = multiprocessing.get_context("fork")
    start = context.Event()
    pipes, procs = [], []
    for job in jobs:
        receiver, sender = context.Pipe(duplex=False)
        proc = context.Process(target=target, args=(job, start, sender))
        proc.start()
        pipes.append(receiver)
        procs.append(proc)
    time.sleep(1.0)  # every process forked, set up and waiting
    meter.mark()
    started = time.perf_counter()
    start.set()
    results = [pipe.recv() for pipe in pipes]
    time.sleep(0.3)  # the backends of closed connections reaped: their CPU is the postmaster's
    meter.mark()
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise BenchError(f"a benchmark process exit {proc.exitcode}")
    return Run(
        max(r.ended for r in results) - started,
        sum(max(len(r.acts), len(r.ships)) for r in results),
        [t for r in results for t in r.acts],
        [t for r in results for t in r.ships],
        sum(r.cpu for r in results),
        sum(r.warnings for r in results),
    )


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
        closing = shipping.Closing(
            origin, key, checkpoint.note(), checkpoint.root, size, ends[size]
        )
        found.append(Shipment(done, lines[done:size], closing))
        done = size
    return found


@dataclass(frozen=True)
class Shipper:
    root: Path  # a files-only project: its log is shipped again
    url: str
    name: str  # its project and host in the database
    keep: bool


def _shipper(job: Shipper, start: StartSignal, out: Any) -> None:
    """Ship the log's acts again, one `shipping.ship` each, into the database at `url`."""
    project = Project(job.root)
    ledger_ = dataclasses.replace(
        project.ledger(load_config(project.config_file)),
        fleet=FleetPlace(job.url, job.name, job.name),
    )
    ledger_.shipped.unlink(missing_ok=True)
    acts = shipments(job.root)
    timings = Timings()
    fd = os.open(ledger_.log, os.O_RDONLY)
    start.wait()
    timings.begin()
    with kept(job.keep):
        for act in acts:
            started = time.perf_counter()
            shipping.ship(ledger_, fd, act.closing)
            timings.ships.append(time.perf_counter() - started)
    timings.end()
    os.close(fd)
    out.send(timings)


PGBENCH = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
PLAIN_TABLE = (
    "CREATE TABLE plain (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, origin int NOT NULL,"
    " line bytea NOT NULL, leaf bytea NOT NULL)"
)


def pgbench(
    url: str, clients: int, acts: int, sizes: Sequence[int], meter: Meter, *, connect: bool
) -> Run:
    """pgbench inserting `acts` transactions from each of `clients`, each the rows of one act
    (lines of these sizes), into a plain table (`connect`: a new connection per transaction,
    as an observation in its own process has)."""
    rows = "".join(
        f"INSERT INTO plain (origin, line, leaf) VALUES (:client_id, repeat('x', {size})::bytea,"
        f" sha256(repeat('x', {size})::bytea));\n"
        for size in sizes
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(PLAIN_TABLE)
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "act.sql"
        script.write_text(f"BEGIN;\n{rows}END;\n")
        argv = [PGBENCH, "-n", "-h", options["host"], "-c", str(clients), "-j", "2"]
        argv += ["-t", str(acts), "-f", str(script), *(["-C"] if connect else [])]
        argv += [*(["-p", options["port"]] if "port" in options else []), parts.path[1:]]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        meter.mark()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        meter.mark()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise BenchError(f"pgbench exit {done.returncode}: {done.stderr[-800:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    for line in done.stdout.splitlines():
        if line.startswith("tps = "):
            return Run(clients * acts / float(line.split()[2]), clients * acts, client_cpu=cpu)
    raise BenchError(f"pgbench printed no tps: {done.stdout[-800:]}")


# -- checks ------------------------------------------------------------------------------------


def log_lines(root: Path) -> list[bytes]:
    return (root / "governance" / "runtime" / "GOVERNANCE_LOG.ndjson").read_bytes().splitlines()


def _line_count(root: Path) -> int:
    return len(log_lines(root))


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


def _pooler_ticks() -> int:
    """CPU ticks of the local PgBouncer processes (found by name, only read)."""
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "pgbouncer":
                stat = _stat(pid)
                ticks += stat[1] if stat else 0
    return ticks


@functools.cache
def _postmaster(server: Server) -> int | None:
    """The server's postmaster (the parent of a backend), if it runs on this machine."""
    with server.admin() as conn:  # read while the backend lives
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        own = _stat(str(row[0])) if row else None
    return own[0] if own else None


def server_cpu(server: Server) -> float | None:
    """CPU seconds the whole local server has used (its live processes, and the backends that
    ended, which the postmaster reaped), and the pooler's when there is one; None when the
    server is not on this machine. Other databases' work on the same server counts too."""
    postmaster, ticks = _postmaster(server), 0
    if postmaster is None:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        stat = _stat(pid)
        if stat is not None and int(pid) == postmaster:
            ticks += stat[1] + stat[2]
        elif stat is not None and stat[0] == postmaster:
            ticks += stat[1]
    if server.pooler is not None:
        ticks += _pooler_ticks()
    return ticks / os.sysconf("SC_CLK_TCK")


# -- the figures -------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every core), from /proc/stat."""
    with open("/proc/stat") as stat:
        ticks = [int(n) for n in stat.readline().split()[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4] - ticks[7]  # not idle, iowait, steal
    return busy / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Figure:
    name: str
    run: Run
    events: int
    server_cpu: float | None  # CPU seconds of the server meanwhile (None: not on this machine)
    others: float  # cores busy with other work meanwhile (the machine is shared)

    @property
    def events_per_second(self) -> float:
        return self.events / self.run.seconds

    @property
    def acts_per_second(self) -> float:
        return self.run.acts / self.run.seconds


def measured(
    name: str, server: Server, run: Callable[[Meter], Run], events: Callable[[], int]
) -> Figure:
    """Run it; its figure, with the server's CPU and the other work on the machine meanwhile."""
    before, meter = events(), Meter(server)
    done = run(meter)
    used = meter.server_cpu()
    others = max(0.0, meter.busy() - done.client_cpu - (used or 0.0)) / done.seconds
    return Figure(name, done, events() - before, used, others)


def _ms(values: Sequence[float], fraction: float) -> str:
    return f"{percentile(values, fraction) * 1000:.1f}" if values else "-"


def _per_act(cpu: float | None, acts: int) -> str:
    return f"{cpu / acts * 1000:.1f}" if cpu is not None else "-"


def print_figures(figures: Sequence[Figure], peer: Figure) -> None:
    """One row per figure; CPU in ms per act (client: the processes measured; server: the
    whole PostgreSQL server), `others`: cores busy with other work meanwhile."""
    print(
        f"\n{'':46} {'events/s':>8} {'acts/s':>7} {'x files':>7} {'act p50':>7} {'p99':>6}"
        f" {'ship p50':>8} {'p99':>6} {'client':>6} {'server':>6} {'others':>6}"
        f"\n{'':46} {'':>8} {'':>7} {'':>7} {'ms':>7} {'ms':>6} {'ms':>8} {'ms':>6}"
        f" {'ms/act':>6} {'ms/act':>6} {'cores':>6}"
    )
    for f in figures:
        r = f.run
        print(
            f"{f.name:46} {f.events_per_second:8.0f} {f.acts_per_second:7.0f}"
            f" {f.events_per_second / peer.events_per_second:6.2f}x"
            f" {_ms(r.act_times, 0.5):>7} {_ms(r.act_times, 0.99):>6}"
            f" {_ms(r.ship_times, 0.5):>8} {_ms(r.ship_times, 0.99):>6}"
            f" {_per_act(r.client_cpu, r.acts):>6} {_per_act(f.server_cpu, r.acts):>6}"
            f" {f.others:6.2f}"
        )


def _observe_cli(root: Path, rounds: int, meter: Meter) -> Run:
    """`sealguard observe` `rounds` times, each a fresh process, one after the other."""
    before, times = resource.getrusage(resource.RUSAGE_CHILDREN), []
    meter.mark()
    for _ in range(rounds):
        started = time.perf_counter()
        sealguard(root, "observe")
        times.append(time.perf_counter() - started)
    meter.mark()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Run(sum(times), rounds, times, client_cpu=cpu)


def cli_figures(server: Server, folder: Path, rounds: int) -> list[Figure]:
    """A real `sealguard observe` of a project (one `echo ok` probe) without and with the
    database: everything an observation does there (its audits hold the log against the
    database, then the act is shipped), one process each, start-up included."""
    figures = []
    with fresh_database(server) as url:
        for name, fleet in (("files only", ""), ("+ database", server.ship_url(url))):
            config = FLEET.format(url=fleet, project="cli", host="h1") if fleet else ""
            root = make_project(folder / f"cli-{bool(fleet)}", config)
            sealguard(root, "observe")  # the day's first keeps a snapshot: not the usual one
            run = functools.partial(_observe_cli, root, rounds)
            label = f"sealguard observe (CLI, 1 process), {name}"
            figures.append(measured(label, server, run, functools.partial(_line_count, root)))
    return figures


def appends(args: argparse.Namespace, server: Server, folder: Path) -> list[Figure]:
    """Part 1: the observers with and without the database, the database side alone, and
    plain INSERTs; the files-only figure first (the peer)."""
    acts, count = args.acts, args.observers
    template = observed_template(folder / "template")
    files_roots = make_projects(folder / "files", count, None)

    def lines(roots: Sequence[Path]) -> Callable[[], int]:
        return lambda: sum(len(log_lines(root)) for root in roots)

    def observers(roots: Sequence[Path], keep: bool) -> Callable[[Meter], Run]:
        jobs = [Observer(root, acts, template, keep) for root in roots]
        return functools.partial(run_processes, _observer, jobs)

    files = measured(
        f"{count} observers, files only", server, observers(files_roots, False), lines(files_roots)
    )
    figures, alone = [files], []
    for keep in KEEPS:
        with fresh_database(server) as url:
            roots = make_projects(folder / f"fleet-{keep}", count, server.ship_url(url))
            name = f"{count} observers + database, {CONNECTION[keep]}"
            figures.append(measured(name, server, observers(roots, keep), lines(roots)))
            name = f"1 observer + database, {CONNECTION[keep]}"
            alone.append(measured(name, server, observers(roots[:1], keep), lines(roots[:1])))
            check_database(url, roots)
    figures += alone
    if args.cli:
        figures += cli_figures(server, folder, args.cli)
    # the replays ship every act of the files-only logs (the seal's too): all their lines
    shipped = lines(files_roots)()
    for keep in KEEPS:
        with fresh_database(server) as url:
            via = server.ship_url(url)
            jobs = [Shipper(root, via, f"r{n:02d}", keep) for n, root in enumerate(files_roots)]
            name = f"shipments alone, {CONNECTION[keep]}"
            run = functools.partial(run_processes, _shipper, jobs)
            figure = measured(name, server, run, lambda: 0)
            figures.append(dataclasses.replace(figure, events=shipped))
    sizes = [len(line) for line in log_lines(files_roots[0])[-3:]]
    for connect in (True, False):
        with fresh_database(server, schema=False) as url:
            name = f"pgbench INSERTs, {CONNECTION[not connect].replace(' act', ' transaction')}"
            bench = functools.partial(pgbench, url, count, acts, sizes, connect=connect)
            figure = measured(name, server, bench, lambda: 0)
            figures.append(dataclasses.replace(figure, events=count * acts * len(sizes)))
    return figures


# -- part 2: `fleet status` over a fleet built in bulk (benchmarks/fleet_build.py) ------------


@dataclass(frozen=True)
class Verdict:
    """One line of the summary: what was measured, against its goal."""

    what: str
    figure: str
    goal: str
    met: bool | None  # None: a peer's figure, no goal of its own


def status_part(args: argparse.Namespace, server: Server, folder: Path) -> list[Verdict]:
    """`sealguard fleet status` (a fresh process, best of 5) over N projects and M events,
    built through sealguard's own batch path."""
    from fleet_build import build_fleet, time_status  # beside this file

    projects, events = args.status_projects, args.status_events
    with fresh_database(server) as url:
        started = time.perf_counter()
        build_fleet(url, folder / "status", projects, events, drifting=10, jobs=2)
        built = time.perf_counter() - started
        print(f"built {projects:,} projects, {events:,} events in {built:.0f} s", flush=True)
        best, found = time_status(url)
    if len(found["logs"]) != projects:
        raise BenchError(f"fleet status shows {len(found['logs'])} logs, not {projects}")
    what = f"fleet status, {projects:,} projects / {events:,} events"
    return [Verdict(what, f"{best:.3f} s (best of 5)", "under 1 s", best < STATUS_GOAL)]


# -- part 3: `log verify` from the database against the files (benchmarks/fleet_verify.py) -----


def verify_part(args: argparse.Namespace, server: Server, folder: Path) -> list[Verdict]:
    """`log verify` of one project's M events from the database's rows against the same log
    from its files (`--full`: every line both ways), in turns, best of 3."""
    from fleet_verify import project_log, verify_times  # beside this file

    events = args.verify_events
    with fresh_database(server) as url:
        origin = project_log(folder / "verify", url, events)
        best = verify_times(folder / "verify", url, origin, rounds=3)
    files, base = best["files: log verify --dir --full"], best["database: log verify --url"]
    for name, (wall, cpu) in best.items():
        print(f"log verify, {events:,} events, {name:32} {wall:6.2f} s, CPU {cpu:5.2f} s")
    ratio = base[0] / files[0]
    what = f"log verify, {events:,} events: database / files"
    return [Verdict(what, f"{ratio:.2f}x ({base[0]:.2f} s)", "at most 2x", ratio <= VERIFY_GOAL)]


def appends_verdicts(figures: Sequence[Figure]) -> list[Verdict]:
    """The appends' goal, for the fleet rows (the rest are peers)."""
    found = []
    goal = f"at least {EVENTS_GOAL:,}/s"
    for figure in figures:
        rate, cpu = figure.events_per_second, figure.server_cpu
        if " observers + " in figure.name:
            found.append(Verdict(figure.name, f"{rate:,.0f} events/s", goal, rate >= EVENTS_GOAL))
        if figure.name.startswith("shipments alone") and cpu:
            per_core = figure.events / cpu  # events per second of one server core
            what = f"{figure.name}: the server's CPU per event"
            found.append(Verdict(what, f"{per_core:,.0f} events/core-s", goal, None))
    return found


def print_verdicts(verdicts: Sequence[Verdict]) -> None:
    print(f"\n{'summary':62} {'measured':>22}  {'goal':>18}")
    for v in verdicts:
        met = "" if v.met is None else "met" if v.met else "NOT met"
        print(f"{v.what:62} {v.figure:>22}  {v.goal:>18}  {met}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--observers", type=int, default=16)
    parser.add_argument("--acts", type=int, default=100, help="acts per observer (default 100)")
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"the issue's sizes: {FULL_ACTS:,} acts per observer; fleet status over "
        f"{FULL_PROJECTS:,} projects / {FULL_EVENTS:,} events; log verify of {FULL_VERIFY:,}",
    )
    parser.add_argument("--parts", default="appends,status,verify", help="of appends,status,verify")
    parser.add_argument("--status-projects", type=int, default=100)
    parser.add_argument("--status-events", type=int, default=100_000)
    parser.add_argument("--verify-events", type=int, default=100_000)
    parser.add_argument("--cli", type=int, default=10, help="real `sealguard observe` runs")
    parser.add_argument("--dir", type=Path, default=None, help="where the projects go (kept)")
    parser.add_argument("--pghost", default="/var/run/postgresql")
    parser.add_argument("--pgport", type=int, default=None)
    parser.add_argument(
        "--pooler",
        metavar="HOST[:PORT]",
        help="observers ship through this connection pooler (PgBouncer: sealguard's startup "
        "`options` needs ignore_startup_parameters = options)",
    )
    args = parser.parse_args()
    if args.full:
        args.acts = FULL_ACTS
        args.status_projects, args.status_events = FULL_PROJECTS, FULL_EVENTS
        args.verify_events = FULL_VERIFY
    parts = set(args.parts.split(","))
    server = Server(args.pghost, args.pgport, args.pooler)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="sealguard-bench-fleet-"))
    verdicts: list[Verdict] = []
    try:
        print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} at the start", flush=True)
        if "appends" in parts:
            print(f"appends: {args.observers} processes x {args.acts:,} acts", flush=True)
            figures = appends(args, server, folder)
            print_figures(figures, figures[0])
            for figure in figures:
                if figure.run.warnings:
                    print(f"{figure.name}: {figure.run.warnings} shipments failed (warned)")
            verdicts += appends_verdicts(figures)
        if "status" in parts:
            verdicts += status_part(args, server, folder)
        if "verify" in parts:
            verdicts += verify_part(args, server, folder)
        print_verdicts(verdicts)
        print(f"load {os.getloadavg()[0]:.2f} at the end")
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
