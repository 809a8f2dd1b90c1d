"""Benchmark: what `observe`, `status` and `verify` cost with a long history behind them.

Issue 11, goal 1: with 100,000 past observations (a year at one every 5 minutes) each command
takes at most 1.1x its time with 10 (the probe excluded), and `status` stays under 150 ms cold.

The product is 50 small sealed files and one instant probe (`echo ok`, read as text). For each
size a governed project is sealed with the real CLI and given that many past STABLE
observations, built once and kept under --dir (a BUILT.json marker says it is complete). A real
observation takes ~0.3 s, and even the real write path alone (runtime.write_files, then
ledger.append_many with its fsyncs) takes ~8 ms per observation, 13 minutes for 100,000, and
stamps every line with the time of the build. So the history is written in bulk instead, with
sealguard's own encoders, from the shape two real observations of the same project wrote:

* two real `sealguard observe` runs on a scratch copy: the first of a UTC day (it keeps the
  day's STABLE snapshot: 11 log lines) and a plain one (3 lines: runtime_writing, runtime_file,
  runtime_event). The builder first rebuilds both from their ids and times and must get the
  very bytes `observe` wrote (log lines and event files), or it stops: it cannot drift
  silently (tests/test_history_bench.py builds one and verifies it).
* then N observations, 5 minutes apart, ending a minute before now: fresh ids (events.new_id),
  the RUNTIME_EVENT (events.to_data) with its event file and, on the first observation of each
  UTC day, its snapshot files, each journaled as runtime.py does (runtime_writing with the
  SHA-256s, then runtime_file), every line canonical (canonical.encode_event), with its `seq`,
  and `ts` as far after `observed_at` as in the real run; files get the observation's mtime.
* ONE checkpoint per observation, after its last line, signed with the project's log key
  (note.sign over a merkle.CompactRange), appended to checkpoint.history. Today's `observe`
  publishes one per append (2 per observation, 4 with a snapshot); issue 11 item 3 makes it
  one per act, so the built history has the shape observations will leave from then on. The
  `checkpoint` file, the writer's cache (.ledger-state.json, as writer._save_cache writes it)
  and the last write's signed intent (.ledger-pending) are written to match.

The real seal's one line is written again with its `ts` (the only time it holds) set back to
5 minutes before the first observation, its checkpoint signed again: a project sealed a year
ago. Files are written without fsync: a benchmark's cache, not evidence.

A cached project keeps the shape of the sealguard that built it; after a change to what an
observation writes, --rebuild gives the new one.

Each run copies the built project, then checks the copy before timing anything: `verify` and
`log verify` must exit 0 and a real `observe` must be STABLE, else it stops (try --rebuild).
Then, each in a fresh process: `observe` R times in a row on that copy, reporting the median
(each adds one observation, as in real use, so the copy keeps what the previous observation
left, such as caches; a fresh copy per round would lose them with the inodes), and `status`
and `verify` best of R; and, as the floor under every command, the interpreter alone and
`sealguard --version` (start-up and imports).

    python benchmarks/history.py [--dir /tmp/sealguard-history] [--sizes 10,10000,100000]
                                 [--rounds 5] [--rebuild] [--profile 10000]
"""

import argparse
import base64
import hashlib
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import msgspec

from sealguard import runtime
from sealguard.events import RuntimeEvent, SnapshotRecord, from_data, iso_utc, new_id, to_data
from sealguard.fsio import write_atomic
from sealguard.ledger import note, pending
from sealguard.ledger.canonical import decode_line, encode_event
from sealguard.ledger.keys import load_key, origin_for, public_bytes
from sealguard.ledger.layout import Ledger
from sealguard.ledger.merkle import CompactRange, leaf_hash
from sealguard.project import Project

BUILDER_VERSION = 1  # bump when the built projects change, so cached ones are rebuilt
INTERVAL = timedelta(minutes=5)
PRODUCT_FILES = 50
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # ledger/clock.py utc_now; the shape check holds us to it
STATUS_GOAL = 0.150
RATIO_GOAL = 1.1
CONFIG = """[seal]
paths = ["src/**"]

[[probe]]
name = "ok"
command = ["echo", "ok"]
report = "text"
timeout = "1m"
"""


class BenchError(Exception):
    """The benchmark cannot go on: a command failed, or the built history is not what
    sealguard itself would have written."""


# -- running the real CLI ------------------------------------------------------------------


def sealguard(project: Path, *args: str, ok: Sequence[int] = (0,)) -> tuple[float, str]:
    """Run `python -m sealguard --project P ARGS` in a fresh process: (seconds, stdout)."""
    argv = [sys.executable, "-m", "sealguard", "--project", str(project), *args]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in ok:
        said = (done.stdout + done.stderr).strip()[-1500:]
        raise BenchError(
            f"`sealguard {' '.join(args)}` on {project} exit {done.returncode}:\n{said}"
        )
    return seconds, done.stdout


def observe_stable(project: Path) -> tuple[float, dict[str, Any]]:
    """One real observation, which must be STABLE: (seconds, the RUNTIME_EVENT)."""
    seconds, out = sealguard(project, "observe", "--json", ok=(0, 1, 2, 3))
    try:
        event = json.loads(out)
    except ValueError:
        raise BenchError(f"{project}: a real observation printed no event: {out[-1500:]}") from None
    if event.get("classification") != "STABLE":
        matched = [step for step in event.get("why", []) if step.get("matched")]
        found = event.get("invariants_before", []) + event.get("invariants_after", [])
        raise BenchError(
            f"{project}: a real observation after the built history is "
            f"{event.get('classification')}, not STABLE: {json.dumps(matched + found)[:1500]}"
        )
    return seconds, event


def make_product(root: Path) -> Project:
    """50 small sealed files and an instant probe, sealed with the real CLI."""
    for n in range(PRODUCT_FILES):
        path = root / "src" / f"pkg{n % 5}" / f"module{n}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'"""Module {n}."""\n\n\ndef value() -> int:\n    return {n}\n')
    (root / "governance").mkdir()
    (root / "governance" / "sealguard.toml").write_text(CONFIG)
    sealguard(root, "seal")
    return Project(root)


# -- the shape of one real observation -----------------------------------------------------


def _without_line_fields(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in ("seq", "ts", "type")}


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Observed:
    """One real observation as the log holds it: its lines, from its first to its event."""

    lines: tuple[bytes, ...]
    first_seq: int

    # read once: the builder consults them for every observation it writes
    @cached_property
    def events(self) -> list[dict[str, Any]]:
        return [decode_line(line) for line in self.lines]

    @cached_property
    def data(self) -> dict[str, Any]:
        """The RUNTIME_EVENT, as its event file holds it."""
        return _without_line_fields(self.events[-1])

    @cached_property
    def event(self) -> RuntimeEvent:
        return from_data(self.data)

    @property
    def moment(self) -> datetime:
        return _moment(self.data["observed_at"])

    @cached_property
    def delays(self) -> list[timedelta]:
        """How long after `observed_at` each line was stamped."""
        return [_moment(event["ts"]) - self.moment for event in self.events]


@dataclass(frozen=True)
class Shape:
    """What one plain STABLE observation and the day's first (with its snapshot) write."""

    plain: Observed
    daily: Observed
    snapshot_files: tuple[tuple[str, bytes], ...]  # (name in the snapshot, content), in order


def _observations(log: bytes) -> list[Observed]:
    """The log's lines after the seal, cut after each runtime_event."""
    lines = log.split(b"\n")[:-1]
    found, start = [], 1
    for seq in range(1, len(lines)):
        if decode_line(lines[seq]).get("type") == "runtime_event":
            found.append(Observed(tuple(lines[start : seq + 1]), start))
            start = seq + 1
    return found


def _snapshot_files(project: Project, daily: Observed) -> tuple[tuple[str, bytes], ...]:
    snapshot = daily.data["snapshot"]
    folder = project.root / snapshot["path"]
    announced = daily.events[0]["paths"]  # runtime_writing: the snapshot's files, in order
    names = [
        (project.runtime / rel).relative_to(folder).as_posix()
        for rel in announced
        if (project.runtime / rel).is_relative_to(folder)
    ]
    if sorted(names) != sorted(snapshot["files"]):
        raise BenchError(f"the snapshot {snapshot['path']} is not what its event lists")
    return tuple((name, (folder / name).read_bytes()) for name in names)


def capture_shape(sealed: Project, scratch: Path) -> Shape:
    """Two real observations on a copy of the sealed project, read back from its log."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(sealed.root, scratch, symlinks=True)
    project = Project(scratch)
    for _ in range(2):
        observe_stable(scratch)
    found = _observations(project.log_file.read_bytes())
    if len(found) != 2 or found[0].data["snapshot"] is None or found[1].data["snapshot"]:
        raise BenchError(
            f"{scratch}: expected a first observation with its snapshot, then a plain one; "
            "the log holds something else (did a UTC day end between them? run again)"
        )
    shape = Shape(found[1], found[0], _snapshot_files(project, found[0]))
    check_shape(project, shape)
    return shape


# -- one observation, as the builder writes it (pure) --------------------------------------


@dataclass(frozen=True)
class Written:
    """One observation: the files it leaves in governance/runtime/ and its log lines."""

    files: dict[Path, bytes]
    lines: list[tuple[str, dict[str, Any], str]]  # (type, fields, ts)
    moment: datetime


def _journaled(folder: Path, files: dict[Path, bytes]) -> list[tuple[str, dict[str, Any]]]:
    """What runtime.write_files journals: the announcement with the SHA-256s, then each file."""
    rels = [path.relative_to(folder).as_posix() for path in files]
    digests = [hashlib.sha256(content).hexdigest() for content in files.values()]
    items: list[tuple[str, dict[str, Any]]] = [
        (runtime.WRITING, {"paths": rels, "sha256": dict(zip(rels, digests, strict=True))})
    ]
    for rel, digest, content in zip(rels, digests, files.values(), strict=True):
        items.append((runtime.RUNTIME_FILE, {"path": rel, "sha256": digest, "size": len(content)}))
    return items


def observation(
    project: Project, shape: Shape, moment: datetime, event_id: str, daily: bool
) -> Written:
    """A STABLE observation at `moment`, with the day's snapshot when `daily`."""
    model = shape.daily if daily else shape.plain
    files: dict[Path, bytes] = {}
    items: list[tuple[str, dict[str, Any]]] = []
    snapshot = None
    if daily:
        snapshot_id = "SNP_" + event_id[4:]
        folder = project.snapshot_folder(snapshot_id)
        kept = {folder / name: content for name, content in shape.snapshot_files}
        items += _journaled(project.runtime, kept)
        files |= kept
        hashes = {name: hashlib.sha256(c).hexdigest() for name, c in shape.snapshot_files}
        path = project.display(folder)
        snapshot = SnapshotRecord(snapshot_id=snapshot_id, path=path, files=hashes)
    event = msgspec.structs.replace(
        model.event, event_id=event_id, observed_at=iso_utc(moment), snapshot=snapshot
    )
    data = to_data(event)
    event_file = {project.event_file(event_id): json.dumps(data, indent=1, sort_keys=True).encode()}
    items += [*_journaled(project.runtime, event_file), ("runtime_event", data)]
    files |= event_file
    if len(items) != len(model.delays):
        raise BenchError(f"the builder writes {len(items)} lines, `observe` {len(model.delays)}")
    stamped = moment.replace(microsecond=0)
    stamps = [(stamped + delay).strftime(TS_FORMAT) for delay in model.delays]
    lines = [(kind, fields, ts) for (kind, fields), ts in zip(items, stamps, strict=True)]
    return Written(files, lines, moment)


def encode(kind: str, fields: dict[str, Any], seq: int, ts: str) -> bytes:
    """A log line as writer._lines_for makes it."""
    return encode_event({**fields, "seq": seq, "ts": ts, "type": kind})


def check_shape(project: Project, shape: Shape) -> None:
    """The builder, given a real observation's id and time, must write its very bytes."""
    for model, daily in ((shape.daily, True), (shape.plain, False)):
        event_id = model.data["event_id"]
        rebuilt = observation(project, shape, model.moment, event_id, daily)
        for i, (kind, fields, ts) in enumerate(rebuilt.lines):
            line = encode(kind, fields, model.first_seq + i, ts)
            if line != model.lines[i]:
                raise BenchError(
                    f"the builder no longer writes what `observe` writes (line {model.first_seq}"
                    f"+{i}):\n  observe: {model.lines[i][:600]!r}\n  builder: {line[:600]!r}"
                )
        for path, content in rebuilt.files.items():
            if path.read_bytes() != content:
                raise BenchError(f"the builder writes {path} otherwise than `observe` does")


# -- writing the history -------------------------------------------------------------------


def schedule(count: int, end: datetime) -> Iterator[tuple[datetime, bool]]:
    """`count` moments INTERVAL apart ending at `end`, each marked when it is the first of its
    UTC day: a STABLE observation keeps a snapshot once a day (observation.wants_snapshot)."""
    last_day = None
    for n in range(count):
        moment = end - INTERVAL * (count - 1 - n)
        day = moment.strftime("%Y-%m-%d")
        yield moment, day != last_day
        last_day = day


@dataclass
class HistoryWriter:
    """Writes a freshly sealed project's log again from its first line, dated `sealed_at`, then
    appends observations in big chunks with one signed checkpoint after each, and writes their
    files (no fsync: a benchmark's cache, not evidence)."""

    project: Project
    sealed_at: datetime
    tree: CompactRange = field(default_factory=CompactRange)
    end: int = 0
    last: tuple[note.Checkpoint, int, int, bytes] | None = None  # note, base, offset, bytes
    folders: set[Path] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.ledger = Ledger.in_folder(self.project.runtime)
        self.key = load_key(self.ledger.key_file)
        self.origin = origin_for(public_bytes(self.key))
        lines = self.ledger.log.read_bytes().split(b"\n")
        if len(lines) != 2 or lines[1]:
            raise BenchError(f"{self.ledger.log}: expected the one line of a fresh seal")
        # the seal's one time is its `ts`: dated before the history, as if sealed back then
        sealed = decode_line(lines[0]) | {"ts": self.sealed_at.strftime(TS_FORMAT)}
        self.log = self.ledger.log.open("wb", buffering=8 << 20)
        self.history = self.ledger.history.open("wb", buffering=1 << 20)
        self._append([encode_event(sealed)])

    def _append(self, lines: list[bytes]) -> None:
        """One act: its lines, then its one checkpoint."""
        base, offset = self.tree.size, self.end
        for line in lines:
            self.tree.push(leaf_hash(line))
        data = b"".join(line + b"\n" for line in lines)
        self.log.write(data)
        self.end += len(data)
        checkpoint = note.sign(self.origin, self.tree.size, self.tree.root(), self.origin, self.key)
        self.history.write(checkpoint.note().encode() + b"\n")
        self.last = (checkpoint, base, offset, data)

    def _write_files(self, written: Written) -> None:
        for path, content in written.files.items():
            if path.parent not in self.folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.folders.add(path.parent)
            path.write_bytes(content)
            stamp = written.moment.timestamp()
            os.utime(path, (stamp, stamp))

    def add(self, written: Written) -> None:
        self._write_files(written)
        seq = self.tree.size
        self._append(
            [encode(kind, f, seq + i, ts) for i, (kind, f, ts) in enumerate(written.lines)]
        )

    def close(self) -> None:
        """The latest checkpoint, the writer's cache and the last write's intent, to match."""
        self.log.close()
        self.history.close()
        assert self.last is not None  # the seal's line at least
        checkpoint, base, offset, data = self.last
        write_atomic(self.ledger.checkpoint, checkpoint.note().encode())
        cache = {
            "size": self.tree.size,
            "bytes": self.end,
            "range": [base64.b64encode(h).decode() for h in self.tree.hashes],
        }
        write_atomic(self.ledger.state, json.dumps(cache).encode(), durable=False)
        pending.record(self.ledger, pending.Intent(base, offset, data), self.key)


def write_history(project: Project, shape: Shape, count: int, end: datetime) -> None:
    moments = list(schedule(count, end))
    first = moments[0][0] if moments else end
    writer = HistoryWriter(project, first - INTERVAL + timedelta(microseconds=123456))
    try:
        for moment, daily in moments:
            writer.add(observation(project, shape, moment, new_id("RTE", moment), daily))
    finally:
        writer.close()


def build(home: Path, count: int, now: datetime | None = None) -> Project:
    """A sealed project with `count` past STABLE observations, in `home/project`."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    project = make_product(home / "project")
    shape = capture_shape(project, home / "shape")
    shutil.rmtree(home / "shape")
    write_history(project, shape, count, now - timedelta(minutes=1))
    return project


# -- measuring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    size: int
    home: Path
    seconds: float

    @property
    def project(self) -> Path:
        return self.home / "project"

    @property
    def work(self) -> Path:
        return self.home / "work"


def ensure_built(root: Path, size: int, rebuild: bool) -> Built:
    """The project with `size` past observations, built unless a complete one is cached."""
    home = root / f"n{size}"
    marker = home / "BUILT.json"
    try:
        said = json.loads(marker.read_text())
        if not rebuild and said["builder"] == BUILDER_VERSION and said["size"] == size:
            return Built(size, home, float(said["seconds"]))
    except (OSError, ValueError, KeyError):
        pass
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    print(f"building {size:,} past observations in {home} ...", flush=True)
    started = time.perf_counter()
    build(home, size)
    seconds = time.perf_counter() - started
    marker.write_text(json.dumps({"builder": BUILDER_VERSION, "size": size, "seconds": seconds}))
    return Built(size, home, seconds)


@dataclass
class Figures:
    size: int
    build_seconds: float
    log_bytes: int = 0
    log_lines: int = 0
    checkpoints: int = 0
    runtime_files: int = 0
    observe: list[float] = field(default_factory=list)  # wall seconds, each run
    probe: list[float] = field(default_factory=list)  # the probe's own seconds (duration_ms)
    status: list[float] = field(default_factory=list)
    verify: list[float] = field(default_factory=list)

    @property
    def observe_net(self) -> float:
        """The median observation, its probe excluded."""
        return statistics.median(o - p for o, p in zip(self.observe, self.probe, strict=True))

    def time(self, command: str) -> float:
        return {
            "observe": self.observe_net,
            "status": min(self.status),
            "verify": min(self.verify),
        }[command]


def _describe(figures: Figures, project: Path) -> None:
    runtime_dir = Project(project).runtime
    log = Project(project).log_file.read_bytes()
    figures.log_bytes, figures.log_lines = len(log), log.count(b"\n")
    figures.checkpoints = len(note.split_history((runtime_dir / "checkpoint.history").read_text()))
    figures.runtime_files = sum(len(names) for _, _, names in os.walk(runtime_dir))


def measure(built: Built, rounds: int) -> Figures:
    """Copy the built project, check the copy, then time each command in fresh processes."""
    shutil.rmtree(built.work, ignore_errors=True)
    subprocess.run(["cp", "-a", str(built.project), str(built.work)], check=True)
    figures = Figures(built.size, built.seconds)
    _describe(figures, built.work)
    print("  checking: verify, log verify, a real observe (STABLE) ...", flush=True)
    sealguard(built.work, "verify")
    sealguard(built.work, "log", "verify")
    observe_stable(built.work)  # also leaves what an observation leaves for the next one
    print(f"  timing: observe, status, verify x {rounds} ...", flush=True)
    for _ in range(rounds):
        seconds, event = observe_stable(built.work)
        figures.observe.append(seconds)
        figures.probe.append(sum(p["duration_ms"] for p in event["probes"]) / 1000)
    for _ in range(rounds):
        figures.status.append(sealguard(built.work, "status")[0])
    for _ in range(rounds):
        figures.verify.append(sealguard(built.work, "verify")[0])
    return figures


def profile_observe(built: Built, top: int = 30) -> None:
    """One observation under cProfile. Only the parent process is profiled: time spent in the
    forked workers that hash files and check log lines shows as `poll` (waiting for them)."""
    out = built.home / "observe.prof"
    argv = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "sealguard"]
    argv += ["--project", str(built.work), "observe"]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    print(f"\nprofile of one observe with {built.size:,} past observations ({out}):")
    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative").print_stats("sealguard/", top)
    stats.sort_stats("tottime").print_stats(top // 2)


# -- the report ----------------------------------------------------------------------------


def _goal(command: str, seconds: float, ratio: float, largest: bool) -> str:
    parts = []
    if command == "status":
        parts.append(f"{'ok' if seconds < STATUS_GOAL else 'MISSED'} < 150 ms")
    if largest:
        parts.append(f"{'ok' if ratio <= RATIO_GOAL else 'MISSED'} <= {RATIO_GOAL}x")
    return ", ".join(parts)


def _load() -> str:
    """The machine's load averages: other work on a shared machine skews every figure."""
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def startup(rounds: int) -> tuple[float, float]:
    """The floor under every command, best of `rounds`: the interpreter alone, and sealguard's
    start (interpreter, imports, CLI) as `sealguard --version` measures it."""
    floors = []
    for argv in ([sys.executable, "-c", "pass"], [sys.executable, "-m", "sealguard", "--version"]):
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - started)
        floors.append(min(times))
    return floors[0], floors[1]


def report(all_figures: list[Figures], rounds: int) -> None:
    print("\nhistory     log bytes    log lines  checkpoints  runtime files  built in")
    for f in all_figures:
        print(
            f"{f.size:>7,}  {f.log_bytes:>12,}  {f.log_lines:>11,}  {f.checkpoints:>11,}  "
            f"{f.runtime_files:>13,}  {f.build_seconds:7.1f} s"
        )
    print(
        f"\nobserve: median of {rounds} observations in a row on one copy (each one more past "
        "observation), the probe's own time (its duration_ms) taken out; status and verify: best "
        f"of {rounds}; every command a fresh `python -m sealguard` process"
    )
    base, largest = all_figures[0], all_figures[-1]
    print(f"\ncommand   history      time  x at {base.size:<6,} goal{'':30s}every run (s, wall)")
    for command in ("observe", "status", "verify"):
        for f in all_figures:
            seconds = f.time(command)
            ratio = seconds / base.time(command)
            goal = _goal(command, seconds, ratio, f is largest and f is not base)
            runs = " ".join(f"{t:.3f}" for t in getattr(f, command))
            print(f"{command:8s}  {f.size:>7,}  {seconds:7.3f} s  {ratio:8.2f}x  {goal:33s} {runs}")
    probe = statistics.median(p for f in all_figures for p in f.probe)
    python, started = startup(rounds)
    print(
        f"\nthe probe itself: median {probe * 1000:.0f} ms; a fresh process, best of {rounds}: "
        f"python alone {python * 1000:.0f} ms, `sealguard --version` {started * 1000:.0f} ms; "
        f"load average now {_load()}"
    )


def _compiled() -> None:
    """sealguard's modules compiled once, as `pip install` leaves them: with
    PYTHONDONTWRITEBYTECODE set (as on this machine) every command would compile them again
    (about 130 ms a run, the same at every history size)."""
    import compileall

    import sealguard

    compileall.compile_dir(Path(sealguard.__file__).parent, quiet=1)
    print("sealguard's modules compiled once (as an install leaves them)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/sealguard-history"))
    parser.add_argument("--sizes", default="10,10000,100000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="build even when cached")
    parser.add_argument("--profile", type=int, help="profile one observe at this size")
    args = parser.parse_args()
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    print(f"load average: {_load()}")
    _compiled()
    try:
        figures = []
        for size in sizes:
            built = ensure_built(args.dir, size, args.rebuild)
            print(f"measuring {size:,} past observations ...", flush=True)
            figures.append(measure(built, args.rounds))
            if args.profile == size:
                profile_observe(built)
        report(figures, args.rounds)
    except BenchError as exc:
        raise SystemExit(f"history benchmark: {exc}") from None


if __name__ == "__main__":
    main()
