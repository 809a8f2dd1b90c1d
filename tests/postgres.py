"""A real PostgreSQL for the fleet tests: a private server per test run, a database per test.

The binaries are Debian's (`apt-get install postgresql`, which `.ci/run` does), found under
/usr/lib/postgresql/<version>/bin (the newest), else on PATH. The tests do not use the machine's
own cluster (15/main here). Each pytest run makes a server of its own with initdb in a fresh
folder under the temporary directory (/tmp/sealguard-pg-<pid>-*: data in `data/`, the socket and
`server.log` beside it), starts it with pg_ctl on a free port, and removes it at the end; about a
second. Why not the machine's cluster:

- the fault tests restart and stop the server: done to the machine's cluster, that would break
  every other client it has (on a shared machine, other engineers' test runs);
- the network-namespace tests (tests/netns.py) need the server to accept TCP from a veth's
  address, which on the machine's cluster means editing its listen_addresses and pg_hba.conf;
- a user without root, with PostgreSQL's binaries installed, can run these tests too.

Run as root (CI), the server runs as the `postgres` user through runuser (initdb refuses root)
and its bootstrap superuser is named after the user running the tests: that user connects over
the socket by peer authentication, without a password (`admin_url`). Run as anyone else, it runs
as that user, same superuser rule.

Authentication (pg_hba.conf): the socket by peer; TCP by password (scram-sha-256) from 127.0.0.1,
::1 and NETNS_RANGE (the veth pairs of tests/netns.py) only: the server listens on every address
(`listen_addresses = '*'`, so a veth made after it started is heard) and refuses anyone else.

Fixtures: `pg_server` (the run's server: `restart()`, `stop()`, `start()`), `pg_database` (a fresh
database per test, dropped after it with every role the test made, by `login_role()` or by the
code under test, since roles are cluster-wide), `pg_admin_url` (that database's superuser URL),
`restart_server` (pg_server.restart). Without PostgreSQL the tests that use them skip, saying why,
except under SEALGUARD_REQUIRE_POSTGRES=1 (CI), where they fail.
"""

import contextlib
import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from .machine import alive, unavailable
from .netns import NETNS_RANGE

# Read once at import: during a test TMPDIR points into its tmp_path, where the server's user
# (postgres, when we are root) cannot enter, and which is gone after the test.
_TEMP = Path(tempfile.gettempdir())
_FOLDER = re.compile(r"sealguard-pg-(\d+)-\w+")
_SERVER_USER = "postgres"

Connection = psycopg.Connection[tuple[Any, ...]]


def _bindir() -> Path | None:
    """The newest Debian PostgreSQL's binaries, else those on PATH, else None."""

    def version(initdb: str) -> float:
        return float(Path(initdb).parent.parent.name)

    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    initdb = debian[-1] if debian else shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _problem() -> str | None:
    """Why no test server can be made here, or None."""
    if _bindir() is None:
        return "PostgreSQL is not installed: no initdb in /usr/lib/postgresql/*/bin or on PATH (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(_SERVER_USER)
        except KeyError:
            return f"as root, the test server runs as the user {_SERVER_USER}, which does not exist"
    return None


@dataclass
class PgServer:
    """The run's own server: its folder, port and superuser."""

    bindir: Path
    folder: Path  # data/, the socket, server.log
    port: int
    superuser: str

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def admin_url(self, database: str = "postgres") -> str:
        """The superuser's URL over the socket: peer authentication, no password."""
        return f"postgresql://{self.superuser}@/{database}?port={self.port}&host={self.folder}"

    def connect(self, database: str = "postgres") -> Connection:
        """A superuser connection in autocommit mode."""
        return psycopg.connect(self.admin_url(database), autocommit=True, connect_timeout=10)

    def as_owner(self, argv: Sequence[str], stdin: str | None = None) -> str:
        """Run argv as the server's user, in its folder; its output, or RuntimeError."""
        runner = ["runuser", "-u", _SERVER_USER, "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*runner, *argv],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            cwd=self.folder,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.folder)},
        )
        if done.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: {done.stderr.strip()}\n{self.tail()}")
        return done.stdout

    def tail(self) -> str:
        """The end of the server's log, for a failure message."""
        with contextlib.suppress(OSError):
            return "server.log: ...\n" + "\n".join(self.log.read_text().splitlines()[-15:])
        return ""

    def pg_ctl(self, *args: str) -> None:
        self.as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args])

    def start(self) -> None:
        self.pg_ctl("start", "-l", str(self.log))
        self.wait_ready()

    def stop(self, mode: str = "fast") -> None:
        """Stop it: `fast` ends sessions cleanly, `immediate` as a crash would."""
        self.pg_ctl("stop", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again, returning once it accepts connections."""
        self.pg_ctl("restart", "-m", mode, "-l", str(self.log))
        self.wait_ready()

    def running(self) -> bool:
        try:
            self.connect().close()
        except psycopg.OperationalError:
            return False
        return True

    def ensure_running(self) -> None:
        """Start it if a test stopped it (and failed before starting it again)."""
        if not self.running():
            self.start()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while not self.running():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test server does not accept connections\n{self.tail()}")
            time.sleep(0.1)

    def configure(self, lines: str) -> None:
        """Append to postgresql.conf (a later line wins)."""
        self.as_owner(["sh", "-c", 'cat >> "$1"', "sh", str(self.data / "postgresql.conf")], lines)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])


def _make_server() -> PgServer:
    """initdb in a fresh folder; not started yet."""
    bindir = _bindir()
    assert bindir is not None
    folder = Path(tempfile.mkdtemp(prefix=f"sealguard-pg-{os.getpid()}-", dir=_TEMP))
    if os.geteuid() == 0:
        owner = pwd.getpwnam(_SERVER_USER)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    superuser = pwd.getpwuid(os.geteuid()).pw_name
    server = PgServer(bindir, folder, _free_port(), superuser)
    server.as_owner(
        [
            str(bindir / "initdb"),
            *("-D", str(server.data), "-U", superuser, "-E", "UTF8", "--locale=C"),
            *("--auth-local=peer", "--auth-host=scram-sha-256", "--no-sync"),
        ]
    )
    hba = server.data / "pg_hba.conf"
    line = f"host all all {NETNS_RANGE} scram-sha-256\n"
    server.as_owner(["sh", "-c", 'cat >> "$1"', "sh", str(hba)], line)
    server.configure(f"listen_addresses = '*'\nunix_socket_directories = '{folder}'\n")
    return server


def _start(server: PgServer) -> None:
    """Start on the chosen port, or on another if something took it meanwhile."""
    for _ in range(5):
        server.configure(f"port = {server.port}\n")
        try:
            server.start()
            return
        except RuntimeError:
            if "already in use" not in server.tail():
                raise
            server.port = _free_port()
    server.start()


def _discard(server: PgServer) -> None:
    with contextlib.suppress(RuntimeError):
        server.stop("immediate")
    shutil.rmtree(server.folder, ignore_errors=True)


def _remove_stale() -> None:
    """Stop and remove the servers of runs killed before they could (their pid is gone)."""
    bindir = _bindir()
    for folder in _TEMP.glob("sealguard-pg-*"):
        found = _FOLDER.fullmatch(folder.name)
        if found and bindir and not alive(int(found[1])):
            _discard(PgServer(bindir, folder, 0, ""))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The run's own PostgreSQL, started once, removed at the end."""
    problem = _problem()
    if problem:
        unavailable(problem)
    _remove_stale()
    server = _make_server()
    try:
        _start(server)
        yield server
    finally:
        _discard(server)


@dataclass(frozen=True)
class PgRole:
    """A LOGIN role with a password; its URLs never hold the password (pass it as PGPASSWORD)."""

    name: str
    password: str
    database: str
    port: int

    @property
    def url(self) -> str:
        """Its URL over TCP on loopback."""
        return self.url_at("127.0.0.1")

    def url_at(self, host: str) -> str:
        """Its URL over TCP to host (e.g. a namespace's `host_address`)."""
        return f"postgresql://{self.name}@{host}:{self.port}/{self.database}"

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """base (default: this process's environment) with PGPASSWORD set to its password."""
        return {**(os.environ if base is None else base), "PGPASSWORD": self.password}

    def connect(self) -> Connection:
        """A connection as this role over TCP on loopback, in autocommit mode."""
        return psycopg.connect(self.url, password=self.password, autocommit=True)


@dataclass
class PgDatabase:
    """One test's database in the run's server."""

    server: PgServer
    name: str

    @property
    def admin_url(self) -> str:
        return self.server.admin_url(self.name)

    def connect(self) -> Connection:
        """A superuser connection to this database, in autocommit mode."""
        return self.server.connect(self.name)

    def login_role(self, member_of: Sequence[str] = (), *options: str) -> PgRole:
        """A new LOGIN role with a random password, IN ROLE each of member_of, with any other
        CREATE ROLE options given (e.g. "CREATEROLE")."""
        role = PgRole(f"sg_role_{secrets.token_hex(6)}", secrets.token_urlsafe(18), self.name, 0)
        extra = sql.SQL(" ").join(sql.SQL(option) for option in options)
        with self.connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} {}").format(
                    sql.Identifier(role.name), sql.Literal(role.password), extra
                )
            )
            for group in member_of:
                conn.execute(
                    sql.SQL("GRANT {} TO {}").format(
                        sql.Identifier(group), sql.Identifier(role.name)
                    )
                )
        return PgRole(role.name, role.password, self.name, self.server.port)


def _roles(conn: Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT rolname FROM pg_roles").fetchall()}


def _drop(database: PgDatabase, roles_before: set[str]) -> None:
    """Drop the database (ending its sessions) and every role made since it was created."""
    database.server.ensure_running()
    with database.server.connect() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database.name))
        )
        made = sorted(_roles(conn) - roles_before)
        if not made:
            return
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY(%s)",
            [made],
        )
        names = sql.SQL(", ").join(sql.Identifier(name) for name in made)
        conn.execute(sql.SQL("DROP OWNED BY {}").format(names))
        conn.execute(sql.SQL("DROP ROLE {}").format(names))


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[PgDatabase]:
    """A fresh database (sg_<random>), dropped after the test with the roles it made."""
    database = PgDatabase(pg_server, f"sg_{secrets.token_hex(6)}")
    pg_server.ensure_running()
    with pg_server.connect() as conn:
        roles_before = _roles(conn)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database.name)))
    try:
        yield database
    finally:
        _drop(database, roles_before)


@pytest.fixture
def pg_admin_url(pg_database: PgDatabase) -> str:
    """The superuser's URL of the test's own database (socket, peer authentication)."""
    return pg_database.admin_url


@pytest.fixture
def restart_server(pg_server: PgServer) -> Callable[..., None]:
    """restart_server(mode="fast"): restart the run's server, back once it accepts connections."""
    return pg_server.restart
