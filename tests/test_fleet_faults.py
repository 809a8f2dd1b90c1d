"""Faults of the fleet ledger, done for real: real `sealguard` processes on real projects ship to
a real PostgreSQL as hosts do (a LOGIN role IN ROLE sealguard_observer, over TCP, its password in
PGPASSWORD), while the test restarts the server, kills an observer with -9, cuts the observer's
network, or races two observers of one host.

After each fault the same things must hold: the database holds a prefix of the host's log that
ends at a checkpoint the host signed (byte for byte, in order, no line without its checkpoint),
one more act (or `fleet push`) makes it the whole log, no refusal was kept, `verify` on the host
exits 0, and no act failed for the fault (one warning line at most).

Each test first makes sure its fault really happened where it means to (a shipment in flight, seen
from the server's side in pg_stat_activity; the connection attempts counted in the namespace).
"""

import functools
import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sealguard.fleet.sessions import CUT_OFF
from sealguard.fleet.shipping import CHUNK_LINES
from sealguard.ledger import Ledger, note
from sealguard.ledger.keys import load_key, origin_for, public_bytes
from sealguard.ledger.merkle import CompactRange, leaf_hash

from .conftest import write_tree
from .ledger_helpers import TEXT_PROBE
from .netns import Netns
from .postgres import PgDatabase, PgRole, PgServer

SEALGUARD = [sys.executable, "-m", "sealguard"]
GUARD = 300  # seconds: a hung process fails the test instead of hanging it (not a measure)
# A link cut during a shipment ends it within database.LINK_TIMEOUT_S (10 s) at each end; TCP's
# own retries would take 15 minutes (the server's, idle, 2 hours). A guard, not a measure.
CUT_GUARD = 120
MET_ROUNDS = 8  # restarts at most in flight until one observation met one (a guard)
SHIP_GUARD = 60  # seconds: a driver ships about every second; none in a minute fails the test
# The warning lines a fault may cost an act, one at most of each kind. Its shipment's: it failed
# (the lines wait in the log) or, shipped, the head `fleet status` shows was not stored (a restart
# just after). An observation's own: its check could not hold the log against the database, and
# its pull could not take the decisions published for the host.
SHIPMENT = ("the next act ships what is owed", "was not updated (")
CHECK = "sealguard: not held against the fleet database: "
PULL = "decisions published for this host are taken when the fleet database is reached again"

# A host that appends acts in a row, as a busy observer does: act k appends PER_ACT events in two
# calls of append_many inside one_checkpoint (one checkpoint and one shipment per act), and prints
# "act k" once the act returned, until the file argv[3] exists or argv[4] acts are done; with
# argv[5] "kept", inside shipping.kept_connections() (one connection kept for every act, as a
# bulk build keeps it). argv: project root, events per act, the stop file, the most acts, the
# way it connects. The fleet module's
# 60-second memory of an unreachable URL is cleared before each act, so that every act tries the
# database, as every act of a host does when each is its own process.
DRIVING = """
import os
import sys
from pathlib import Path
from contextlib import nullcontext
from sealguard.fleet import database
from sealguard.fleet.shipping import kept_connections
from sealguard.ledger.writer import append_many, one_checkpoint
from sealguard.project import Project
from sealguard.seal.settings import config_in_force

project = Project(Path(sys.argv[1]))
ledger = project.ledger(config_in_force(project))
per_act, stop, most = int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
pad, me = "x" * 200, os.getpid()
act = 0
with kept_connections() if sys.argv[5] == "kept" else nullcontext():
    while act < most and not stop.exists():
        database._UNREACHABLE.clear()
        with one_checkpoint(ledger):
            half = per_act // 2
            for part in (range(half), range(half, per_act)):
                append_many(ledger, [("fault_test", {"act": act, "n": n, "by": me, "pad": pad})
                                     for n in part])
        print(f"act {act}", flush=True)
        act += 1
"""
DRIVER = [sys.executable, "-c", DRIVING]


# --- the fleet and its hosts -----------------------------------------------------------------


@dataclass
class Fleet:
    """A database made by `sealguard fleet init`, and a host's login role in sealguard_observer."""

    database: PgDatabase
    role: PgRole

    @property
    def server(self) -> PgServer:
        return self.database.server

    @functools.cached_property
    def auditor(self) -> PgRole:
        """A login role IN ROLE sealguard_auditor (read only), as an auditor has."""
        return self.database.login_role(member_of=["sealguard_auditor"])

    def as_auditor(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`sealguard ARGS --url` the auditor's URL (password in PGPASSWORD), on no project."""
        argv = [*SEALGUARD, *args]
        if "--url" not in args:
            argv += ["--url", self.auditor.url]
        env = self.auditor.env()
        return subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=GUARD, check=False
        )

    def rows(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with self.database.connect() as conn:
            return conn.execute(query, params or None).fetchall()

    def lines(self) -> list[bytes]:
        """Every line the database holds, of every log, in seq order (one log per test)."""
        rows = self.rows("SELECT seq, line FROM sealguard.entries ORDER BY origin, seq")
        assert [seq for seq, _ in rows] == list(range(len(rows))), "seq is not gap-free"
        return [bytes(line) for _, line in rows]

    def backends(self) -> list[tuple[Any, ...]]:
        """The state of each sealguard connection to the database, and its last statement."""
        return self.rows(
            "SELECT state, query FROM pg_stat_activity WHERE application_name = 'sealguard' "
            "AND datname = current_database()"
        )

    def refusals(self) -> list[tuple[Any, ...]]:
        return self.rows("SELECT status, reason FROM sealguard.refusals ORDER BY id")

    def shipping(self, state: str | None = None) -> bool:
        """A sealguard backend is running an append (`active`), or waits inside its transaction
        (`idle in transaction`, after an append when `state` says so); None: either."""
        found = self.rows(
            "SELECT state, position('sealguard.append' in query) > 0 FROM pg_stat_activity "
            "WHERE application_name = 'sealguard' AND datname = current_database()"
        )
        if state is None:
            return any(s == "idle in transaction" or (s == "active" and a) for s, a in found)
        return (state, True) in found


def sealguard(
    root: Path, env: dict[str, str], *args: str, netns: Netns | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [*SEALGUARD, "--project", str(root), *args]
    run = netns.run if netns else subprocess.run
    return run(argv, env=env, capture_output=True, text=True, timeout=GUARD, check=False)  # type: ignore[no-any-return]


@pytest.fixture
def fleet(pg_database: PgDatabase) -> Fleet:
    made = subprocess.run(
        [*SEALGUARD, "fleet", "init", "--url", pg_database.admin_url],
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return Fleet(pg_database, pg_database.login_role(member_of=["sealguard_observer"]))


@dataclass
class Host:
    """A sealed project whose [ledger] url is the observer role's."""

    root: Path
    env: dict[str, str]
    netns: Netns | None = None
    results: list[subprocess.CompletedProcess[str]] = field(default_factory=list)

    @property
    def runtime(self) -> Path:
        return self.root / "governance" / "runtime"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = sealguard(self.root, self.env, *args, netns=self.netns)
        self.results.append(done)
        return done

    @property
    def stop_file(self) -> Path:
        return self.root.parent / f"stop-{self.root.name}"

    def lines(self) -> list[bytes]:
        return (self.runtime / "GOVERNANCE_LOG.ndjson").read_bytes().split(b"\n")[:-1]

    @property
    def origin(self) -> str:
        return origin_for(self.public)

    @property
    def public(self) -> bytes:
        """The host's log key (public half)."""
        return public_bytes(load_key(Ledger.in_folder(self.runtime).key_file))

    def signed(self, text: str) -> note.Checkpoint | None:
        """The checkpoint `text`, if the host's log key signed it."""
        checkpoint = note.parse(text)
        return checkpoint if note.signed_by(checkpoint, checkpoint.origin, self.public) else None

    def signed_sizes(self) -> set[int]:
        """The sizes of the checkpoints in the host's history that its log key signed."""
        history = Ledger.in_folder(self.runtime).history.read_text()
        found = [self.signed(text) for text in note.split_history(history)]
        return {checkpoint.size for checkpoint in found if checkpoint is not None}

    def driver(
        self, per_act: int, most: int = 1_000_000, connecting: str = "each"
    ) -> subprocess.Popen[str]:
        """Acts in a row until the stop file exists or `most` are done, connecting for `each`
        shipment or over one `kept` connection (see DRIVER)."""
        argv = [*DRIVER, str(self.root), str(per_act), str(self.stop_file), str(most), connecting]
        if self.netns is not None:
            argv = self.netns.command(argv)
        # one stream, so that each warning line is seen before the act it belongs to ends
        return subprocess.Popen(
            argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )


def make_host(base: Path, fleet: Fleet, url: str | None = None, netns: Netns | None = None) -> Host:
    root = base / "project"
    config = TEXT_PROBE + f'\n[ledger]\nurl = "{url or fleet.role.url}"\nhost = "h1"\n'
    write_tree(
        root,
        {
            "src/app.py": "print('hello')\n",
            "data/value.txt": "1\n",
            "governance/sealguard.toml": config,
        },
    )
    host = Host(root, fleet.role.env(), netns)
    sealed = host.run("seal")
    assert sealed.returncode == 0, sealed.stderr
    return host


def of_shipment(line: str) -> bool:
    return line.startswith("sealguard: ") and any(w in line for w in SHIPMENT)


# --- what must hold after any fault ------------------------------------------------------------


def assert_a_signed_prefix(fleet: Fleet, host: Host) -> int:
    """The database holds the log's first lines, up to a checkpoint the host signed, and each
    checkpoint it accepted is the root of its lines; how many lines it holds."""
    held, log = fleet.lines(), host.lines()
    assert held == log[: len(held)], "the database holds other lines than the log's first"
    sizes = [size for (size,) in fleet.rows("SELECT size FROM sealguard.logs")]
    assert sizes in ([], [len(held)])
    if held:
        assert len(held) in host.signed_sizes(), f"{len(held)} lines end at no host checkpoint"
    tree, roots = CompactRange(), {0: CompactRange().root()}
    for line in held:
        tree.push(leaf_hash(line))
        roots[tree.size] = tree.root()
    accepted = fleet.rows("SELECT size, root, note FROM sealguard.checkpoints ORDER BY size")
    for size, root, text in accepted:
        assert roots.get(size) == bytes(root), f"the checkpoint at {size} is not its lines' root"
        checkpoint = host.signed(text)
        assert checkpoint is not None and (checkpoint.size, checkpoint.root) == (size, root)
    if held:
        assert accepted and accepted[-1][0] == len(held), "lines without their checkpoint"
    assert fleet.refusals() == []
    return len(held)


def assert_caught_up(fleet: Fleet, host: Host) -> None:
    """The database holds the whole log, the host's last checkpoint last; `verify` on the host,
    and `log verify --url` and `fleet verify` as an auditor, find everything intact."""
    assert assert_a_signed_prefix(fleet, host) == len(host.lines())
    last = (host.runtime / "checkpoint").read_text()
    assert fleet.rows("SELECT note FROM sealguard.checkpoints ORDER BY size DESC LIMIT 1") == [
        (last,)
    ]
    verified = host.run("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    url = fleet.auditor.url
    for command in (["log", "verify", "--url", url, "--origin", host.origin], ["fleet", "verify"]):
        checked = fleet.as_auditor(*command)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert host.origin in checked.stdout


# --- 1. the server restarted in the middle of an append ----------------------------------------


def _when_shipping(fleet: Fleet, process: subprocess.Popen[str], state: str | None = None) -> bool:
    """Wait until a shipment is in flight (True); False if the process ends first, or if none
    is seen within SHIP_GUARD (the process is then killed)."""
    deadline = time.monotonic() + SHIP_GUARD
    while process.poll() is None:
        if fleet.shipping(state):
            return True
        if time.monotonic() > deadline:
            process.kill()
            return False
        time.sleep(0.005)
    return False


def driven(output: str) -> list[list[str]]:
    """A driver's output as what each act said before it ended ("act k"); no act cut short."""
    acts: list[list[str]] = [[]]
    for line in output.splitlines():
        if line == f"act {len(acts) - 1}":
            acts.append([])
        else:
            acts[-1].append(line)
    assert acts.pop() == [], "output after the last act"
    return acts


def acted_as_expected(said: Sequence[Sequence[str]]) -> int:
    """Each act wrote one warning line of each kind at most (see SHIPMENT), and nothing else;
    how many acts warned of their shipment."""
    for lines in said:
        kinds = [
            [line for line in lines if of_shipment(line)],
            [line for line in lines if line.startswith(CHECK)],
            [line for line in lines if line.startswith("sealguard: ") and line.endswith(PULL)],
        ]
        assert len(lines) == sum(map(len, kinds)) and all(len(k) <= 1 for k in kinds), lines
    return sum(1 for lines in said if any(of_shipment(line) for line in lines))


def _stopped(host: Host, driver: subprocess.Popen[str]) -> list[list[str]]:
    """Ask the driver to stop after its act; what each of its acts said."""
    host.stop_file.touch()
    out, _ = driver.communicate(timeout=GUARD)
    assert driver.returncode == 0, out
    return driven(out)


def _restarts_in_flight(
    fleet: Fleet, host: Host, mode: str, *, restarts: int, per_act: int, connecting: str
) -> None:
    """Restart the server `restarts` times, each while a shipment of the driver is in flight
    (seen in pg_stat_activity); every act the driver did meanwhile exited as expected, and a
    restart broke at least one shipment under way (not only connections refused)."""
    driver = host.driver(per_act, connecting=connecting)
    hits = 0
    while hits < restarts and _when_shipping(fleet, driver):
        fleet.server.restart(mode)
        hits += 1
    said = _stopped(host, driver)
    assert hits == restarts
    assert acted_as_expected(said) >= 1
    shipping = [line for lines in said for line in lines if SHIPMENT[0] in line]
    assert [line for line in shipping if "cannot connect" not in line], "no shipment was broken"


@pytest.mark.parametrize(
    ("mode", "connecting"),
    [
        ("fast", "each"),
        ("immediate", "each"),
        ("immediate", "kept"),
        pytest.param("fast", "kept", marks=pytest.mark.slow),
    ],
)
def test_a_server_restarted_in_the_middle_of_shipments_loses_nothing(
    tmp_path: Path, fleet: Fleet, mode: str, connecting: str
) -> None:
    host = make_host(tmp_path, fleet)
    _restarts_in_flight(fleet, host, mode, restarts=2, per_act=2_000, connecting=connecting)
    assert_a_signed_prefix(fleet, host)
    pushed = host.run("fleet", "push")
    assert pushed.returncode == 0, pushed.stderr
    assert_caught_up(fleet, host)


@pytest.mark.slow
@pytest.mark.parametrize("connecting", ["each", "kept"])
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_server_restarted_in_the_middle_of_shipments_many_times(
    tmp_path: Path, fleet: Fleet, mode: str, connecting: str
) -> None:
    host = make_host(tmp_path, fleet)
    _restarts_in_flight(fleet, host, mode, restarts=12, per_act=5_000, connecting=connecting)
    assert_a_signed_prefix(fleet, host)
    acted = host.run("observe")
    assert acted.returncode == 0 and acted.stderr == ""
    assert_caught_up(fleet, host)


def _observing(host: Host, rounds: int, *args: str) -> threading.Thread:
    thread = threading.Thread(target=lambda: [host.run("observe", *args) for _ in range(rounds)])
    thread.start()
    return thread


def _observed_as_expected(results: Sequence[subprocess.CompletedProcess[str]]) -> int:
    """Every observation exited 0 with one warning line of each kind at most and nothing else
    on stderr; how many warned of their shipment."""
    for done in results:
        assert done.returncode == 0, done.stdout + done.stderr
    return acted_as_expected([done.stderr.splitlines() for done in results])


@pytest.mark.parametrize("restarts", [2, pytest.param(14, marks=pytest.mark.slow)])
def test_observations_through_restarts_fail_no_act_and_lose_nothing(
    tmp_path: Path, fleet: Fleet, restarts: int
) -> None:
    """`sealguard observe` again and again while the server restarts at random moments, fast
    and immediate in turns: no observation fails for it, and the next one ships what is owed."""
    host = make_host(tmp_path, fleet)
    rng = random.Random(restarts)
    restarted = threading.Event()

    def observing() -> None:
        while not restarted.is_set():
            host.run("observe")

    thread = threading.Thread(target=observing)
    thread.start()
    try:
        for k in range(restarts):
            time.sleep(rng.uniform(0.3, 2.0))
            fleet.server.restart(("fast", "immediate")[k % 2])
        # A restart at a random moment may fall between an observation's connections and go
        # unseen; then restart while a shipment is in flight, until an observation met one.
        for _ in range(MET_ROUNDS):
            if any(done.stderr for done in host.results[1:]):
                break
            seen = len(host.results)
            deadline = time.monotonic() + SHIP_GUARD
            while not fleet.shipping() and time.monotonic() < deadline:
                time.sleep(0.005)
            fleet.server.restart("immediate")
            while len(host.results) < seen + 2 and thread.is_alive():
                time.sleep(0.05)
    finally:
        restarted.set()
        thread.join(GUARD)
    observed = host.results[1:]
    _observed_as_expected(observed)
    assert any(done.stderr for done in observed), "no observation met a restart"
    assert_a_signed_prefix(fleet, host)
    acted = host.run("observe")
    assert acted.returncode == 0 and acted.stderr == ""
    assert_caught_up(fleet, host)


# --- 2. an observer killed with -9 in the middle of a shipment ---------------------------------


def _gone(fleet: Fleet, guard: float = GUARD) -> None:
    """Wait until the server has ended the transaction of a shipment whose host is gone (a
    guard, not a measure)."""
    deadline = time.monotonic() + guard
    while fleet.shipping():
        assert time.monotonic() < deadline, "the transaction of a host gone stays open"
        time.sleep(0.01)


# Where a kill lands: between two chunks of a shipment (its transaction open, holding the log's
# row), while the server runs an append, or anywhere in an act (writing locally included).
KILL_MOMENTS = ("idle in transaction", "active", None)


def _kill_rounds(fleet: Fleet, host: Host, rounds: int, per_act: int) -> int:
    """Start a driver and kill -9 it, at each of KILL_MOMENTS in turn (after a random few
    milliseconds more); after each kill the database holds a signed prefix of the log. How
    many kills cut a shipment short (the database kept none of it, though the host had signed
    the checkpoint the shipment closes with)."""
    rng = random.Random(rounds)
    cut_short = 0
    for k in range(rounds):
        before = assert_a_signed_prefix(fleet, host)
        driver = host.driver(per_act, connecting=("each", "kept")[k % 2])
        moment = KILL_MOMENTS[k % len(KILL_MOMENTS)]
        if moment is not None:
            assert _when_shipping(fleet, driver, moment), driver.communicate()
            time.sleep(rng.uniform(0, 0.02))
        else:
            time.sleep(rng.uniform(0, 2.0))
        driver.kill()
        driver.wait(GUARD)
        _gone(fleet)
        after = assert_a_signed_prefix(fleet, host)
        cut_short += moment is not None and after == before < max(host.signed_sizes())
    return cut_short


@pytest.mark.parametrize(
    "rounds", [len(KILL_MOMENTS), pytest.param(8 * len(KILL_MOMENTS), marks=pytest.mark.slow)]
)
def test_an_observer_killed_in_the_middle_of_a_shipment_ships_all_or_nothing(
    tmp_path: Path, fleet: Fleet, rounds: int
) -> None:
    """Acts of two chunks (shipped in one transaction) killed with -9: whole acts or nothing in
    the database, and the next act ships all that is owed."""
    host = make_host(tmp_path, fleet)
    per_act = CHUNK_LINES + 1_000
    assert _kill_rounds(fleet, host, rounds, per_act) >= 1, "no kill cut a shipment short"
    acted = host.run("observe")
    assert acted.returncode == 0 and acted.stderr == ""
    assert_caught_up(fleet, host)


# --- 3. an observer cut off by its network -----------------------------------------------------


def _connection_attempts(netns: Netns) -> int:
    """TCP connections begun from inside the namespace so far (its own counters)."""
    snmp = netns.run(["cat", "/proc/net/snmp"], capture_output=True, text=True).stdout
    names, values = [line.split() for line in snmp.splitlines() if line.startswith("Tcp:")]
    return int(values[names.index("ActiveOpens")])


@pytest.mark.parametrize("acts", [2, pytest.param(6, marks=pytest.mark.slow)])
def test_an_observer_cut_off_keeps_observing_and_catches_up_in_order(
    tmp_path: Path, fleet: Fleet, netns: Netns, acts: int
) -> None:
    """An observer on a host of its own whose link is cut: each observation succeeds after one
    connection attempt, saying so once for its check, its pull and its shipment; the database holds
    nothing new and `fleet status` shows the host's last report; once the link is back, the
    next act ships everything, in order."""
    url = fleet.role.url_at(netns.host_address)
    host = make_host(tmp_path, fleet, url=url, netns=netns)
    first = host.run("observe", "--json")
    assert first.returncode == 0 and first.stderr == ""
    held = fleet.lines()
    assert held == host.lines()
    netns.cut()
    for _ in range(acts):
        attempts = _connection_attempts(netns)
        cut_off = host.run("observe")
        assert _observed_as_expected([cut_off]) == 1
        (said,) = cut_off.stderr.splitlines()  # one line for its pull, check and shipment
        assert f"@{url.split('@')[1]}: cannot connect" in said
        assert said.endswith(f": {CUT_OFF}")
        assert _connection_attempts(netns) - attempts == 1  # one wait per command, not per use
        assert fleet.lines() == held
    assert len(host.lines()) > len(held)
    assert _last_report(fleet) == (json.loads(first.stdout)["event_id"], len(held))
    netns.restore()
    back = host.run("observe", "--json")
    assert back.returncode == 0 and back.stderr == ""
    assert_caught_up(fleet, host)
    assert _last_report(fleet) == (json.loads(back.stdout)["event_id"], len(host.lines()))


def _last_report(fleet: Fleet) -> tuple[str, int]:
    """What `fleet status` shows of the one host: its last observation, and the lines held."""
    shown = fleet.as_auditor("fleet", "status", "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    (log,) = json.loads(shown.stdout)["logs"]
    return log["last_observation"]["event_id"], log["lines"]


@pytest.mark.parametrize(
    ("moment", "connecting"),
    [
        ("idle in transaction", "each"),  # between two chunks: the host sending, the server waiting
        ("idle in transaction", "kept"),
        pytest.param("active", "each", marks=pytest.mark.slow),  # the server running an append
        pytest.param("active", "kept", marks=pytest.mark.slow),
    ],
)
def test_a_cut_in_the_middle_of_a_shipment_ends_the_act_and_the_servers_transaction(
    tmp_path: Path, fleet: Fleet, netns: Netns, moment: str, connecting: str
) -> None:
    """The cable pulled while a shipment is in flight (three chunks in one transaction, which
    holds the log's row in the database): the act ends with its warning rather than after TCP's
    own retries, the server ends that transaction by itself while the link is still down, and
    once it is back the next act ships everything without waiting for a lock."""
    host = make_host(tmp_path, fleet, url=fleet.role.url_at(netns.host_address), netns=netns)
    driver = host.driver(per_act=12_000, most=1, connecting=connecting)
    assert _when_shipping(fleet, driver, moment), driver.communicate()
    netns.cut()
    out, _ = driver.communicate(timeout=CUT_GUARD)
    assert driver.returncode == 0, out
    assert acted_as_expected(driven(out)) == 1
    assert "timed out" in out or "closed the connection" in out or "No route" in out, out
    _gone(fleet, CUT_GUARD)
    netns.restore()
    back = host.run("observe")
    assert back.returncode == 0 and back.stderr == ""
    assert_caught_up(fleet, host)


class Said:
    """A running driver's output, read as it comes (its acts, and what each said)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def acts(self) -> int:
        return sum(1 for line in list(self.lines) if line.startswith("act "))

    def wait_for(self, acts: int, guard: float) -> None:
        deadline = time.monotonic() + guard
        while self.acts() < acts:
            assert self.process.poll() is None, self.lines
            assert time.monotonic() < deadline, f"{acts} acts not done: {self.lines}"
            time.sleep(0.05)

    def stop(self, host: Host) -> list[list[str]]:
        host.stop_file.touch()
        self.process.wait(GUARD)
        self.reader.join(GUARD)
        assert self.process.returncode == 0, self.lines
        return driven("\n".join(self.lines) + "\n")


def test_a_kept_connection_cut_between_acts_is_given_up_and_the_acts_go_on(
    tmp_path: Path, fleet: Fleet, netns: Netns
) -> None:
    """A process that keeps one connection for its acts (a bulk build) is cut off while that
    connection is idle between two acts: the next act finds it dead within the link timeout
    (not after TCP's retries), tries a new one once, warns, and the acts go on, one connection
    attempt each; the database holds nothing of them, and once the link is back a push ships
    all of it."""
    host = make_host(tmp_path, fleet, url=fleet.role.url_at(netns.host_address), netns=netns)
    # acts of 1,000 lines: the cut lands while the next act writes locally, not in its shipment
    driver = host.driver(per_act=1_000, connecting="kept")
    said = Said(driver)
    said.wait_for(2, SHIP_GUARD)
    deadline = time.monotonic() + SHIP_GUARD
    between = [("idle", True)]  # the kept one, its act's last statement done (the head's)
    while [(st, "sealguard.report_head" in q) for st, q in fleet.backends()] != between:
        assert time.monotonic() < deadline, fleet.backends()
    attempts = _connection_attempts(netns)
    netns.cut()
    held, before = fleet.lines(), said.acts()
    said.wait_for(before + 3, CUT_GUARD)
    acts = said.stop(host)
    assert acted_as_expected(acts[before:]) >= 3
    assert _connection_attempts(netns) - attempts == len(acts) - before
    assert fleet.lines() == held
    netns.restore()
    pushed = host.run("fleet", "push")
    assert pushed.returncode == 0, pushed.stderr
    assert_caught_up(fleet, host)


# --- 4. two observers of one host racing -------------------------------------------------------


@pytest.mark.parametrize("rounds", [4, pytest.param(25, marks=pytest.mark.slow)])
def test_two_observers_of_one_host_racing_ship_every_line_once_in_order(
    tmp_path: Path, fleet: Fleet, rounds: int
) -> None:
    host = make_host(tmp_path, fleet)
    racing = [_observing(host, rounds, "--wait") for _ in range(2)]
    for thread in racing:
        thread.join(GUARD)
    assert len(host.results) == 2 * rounds + 1
    assert _observed_as_expected(host.results[1:]) == 0
    assert_caught_up(fleet, host)


def _writers(log: list[bytes]) -> list[int]:
    """The driver (pid) of each of its lines, in log order, runs collapsed."""
    found: list[int] = []
    for line in log:
        event = json.loads(line)
        if event.get("type") == "fault_test" and (not found or found[-1] != event["by"]):
            found.append(event["by"])
    return found


@pytest.mark.parametrize("acts", [30, pytest.param(300, marks=pytest.mark.slow)])
def test_two_writers_of_one_host_racing_ship_every_line_once_in_order(
    tmp_path: Path, fleet: Fleet, acts: int
) -> None:
    """Two processes appending acts to one host's log at once, each shipping under the log's
    lock: their acts interleave in the log, and the database holds the log as it is."""
    host = make_host(tmp_path, fleet)
    drivers = [host.driver(per_act=20, most=acts) for _ in range(2)]
    for driver in drivers:
        out, _ = driver.communicate(timeout=GUARD)
        assert driver.returncode == 0, out
        assert driven(out) == [[]] * acts  # no warning: nothing refused, nothing lost
    assert len(_writers(host.lines())) > 2, "the two writers never interleaved"
    assert_caught_up(fleet, host)
