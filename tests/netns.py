"""A process on a host of its own: a network namespace joined to this one by a veth pair.

The fleet's fault tests cut an observer off from the database and give the link back. Each
`Netns` is a namespace (`ip netns add`) whose only way out is one veth pair: the host's end holds
`host_address`, the namespace's end `address`, the two ends of one /30 taken from NETNS_RANGE
(10.213.0.0/16, private and unused here; the first /30 whose addresses no interface of the host
already holds). The namespace has no other route, so a process inside reaches the host's end and
nothing else; the machine's own interfaces, routes and firewall are never touched. `cut()` takes
the host's end down (the namespace's end loses its carrier: new connections time out, packets of
open ones are dropped, as when a cable is pulled) and `restore()` brings it up again.

The test server of tests/postgres.py listens on every address and its pg_hba.conf admits
NETNS_RANGE (with a password), so a process inside connects to `host_address` on the server's
port: that private throwaway server is how PostgreSQL accepts the namespace's connections without
editing the machine's own cluster (see that file).

Cleanup always runs: the processes started inside are killed, the host's end of the pair is
deleted (which deletes both ends) and the namespace removed. Names carry the pytest process's id,
so a later run removes what a run killed with -9 left behind.

Namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN). Without them the tests skip with the
reason, except under SEALGUARD_REQUIRE_POSTGRES=1 (CI, which runs as root), where they fail.
"""

import contextlib
import functools
import ipaddress
import itertools
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from .machine import alive, unavailable

NETNS_RANGE = ipaddress.IPv4Network("10.213.0.0/16")
# Every namespace this file makes is sg<pid>n<k>, its pair's ends sg<pid>h<k> (host) and
# sg<pid>p<k> (inside): at most 15 characters, the limit of a link's name.
_NAME = re.compile(r"sg(\d+)n(\d+)")
_COUNTER = itertools.count()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


@dataclass
class Netns:
    """One namespace and its veth pair; run processes inside with `run` or `popen`."""

    name: str
    host_link: str
    peer_link: str
    host_address: str  # the host's end: what a process inside connects to
    address: str  # the namespace's own end
    started: list[subprocess.Popen[Any]] = field(default_factory=list)

    def command(self, argv: Sequence[str]) -> list[str]:
        """The command line that runs argv inside the namespace (same files, same environment)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """Run argv inside and wait for it (subprocess.run's keywords; check=False by default)."""
        kwargs.setdefault("check", False)
        return subprocess.run(self.command(argv), **kwargs)  # noqa: PLW1510

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start argv inside; it is killed at cleanup if still running."""
        process = subprocess.Popen(self.command(argv), **kwargs)
        self.started.append(process)
        return process

    def cut(self) -> None:
        """Pull the cable: the host's end goes down."""
        _ip("link", "set", self.host_link, "down")

    def restore(self) -> None:
        """Plug it back: both ends are running again and carry traffic when this returns."""
        _ip("link", "set", self.host_link, "up")
        deadline = time.monotonic() + 10
        while not (self._running() and self._running(self.name)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"veth {self.host_link} did not come back up")
            time.sleep(0.05)
        # An address resolution begun while cut keeps going after the link returns and, once
        # its probes (sent into the cut) run out, fails every packet queued on it, a connection
        # begun after restore() included ("No route to host" about a second later). Forget it.
        _ip("-n", self.name, "neigh", "flush", "dev", self.peer_link)
        _ip("neigh", "flush", "dev", self.host_link)

    def _running(self, namespace: str | None = None) -> bool:
        where = ["-n", namespace] if namespace else []
        link = self.peer_link if namespace else self.host_link
        shown = json.loads(_ip(*where, "-j", "link", "show", link).stdout)
        return "LOWER_UP" in shown[0]["flags"]

    def close(self) -> None:
        """Kill what runs inside, delete the pair and the namespace (each step regardless)."""
        for process in self.started:
            if process.poll() is None:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        for pid in _ip("netns", "pids", self.name, check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 9)  # a child of one of ours that outlived it
        _ip("link", "del", self.host_link, check=False)
        _ip("netns", "del", self.name, check=False)


def _held_addresses() -> set[ipaddress.IPv4Address]:
    shown = json.loads(_ip("-j", "-4", "addr", "show").stdout)
    return {
        ipaddress.IPv4Address(info["local"]) for link in shown for info in link.get("addr_info", [])
    }


def _free_subnet() -> ipaddress.IPv4Network:
    """The first /30 of NETNS_RANGE, from a place set by our pid, no host interface holds."""
    subnets = list(NETNS_RANGE.subnets(new_prefix=30))
    held = _held_addresses()
    start = (os.getpid() * 61) % len(subnets)
    for offset in range(len(subnets)):
        subnet = subnets[(start + offset) % len(subnets)]
        if not held & set(subnet):
            return subnet
    raise RuntimeError(f"every /30 of {NETNS_RANGE} is in use")


def _remove_stale() -> None:
    """Remove the namespaces and links a killed run of these tests left (its pid is gone)."""
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        found = _NAME.fullmatch(line.split(" ", 1)[0])
        if found and not alive(int(found[1])):
            _ip("link", "del", f"sg{found[1]}h{found[2]}", check=False)
            _ip("netns", "del", found[0], check=False)


@functools.cache
def _problem() -> str | None:
    """Why namespaces cannot be made here, or None (asked once per run)."""
    if shutil.which("ip") is None:
        return "no `ip` command (apt-get install iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    probe = f"sg{os.getpid()}probe"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"ip netns add is not permitted here: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@contextlib.contextmanager
def open_netns() -> Iterator[Netns]:
    """A fresh namespace on its own veth pair, removed on the way out."""
    problem = _problem()
    if problem:
        unavailable(problem)
    _remove_stale()
    k = next(_COUNTER)
    pid = os.getpid()
    subnet = _free_subnet()
    host_ip, inside_ip = (str(a) for a in subnet.hosts())
    net = Netns(f"sg{pid}n{k}", f"sg{pid}h{k}", f"sg{pid}p{k}", host_ip, inside_ip)
    peer = net.peer_link
    try:
        _ip("netns", "add", net.name)
        _ip("link", "add", net.host_link, "type", "veth", "peer", "name", peer, "netns", net.name)
        _ip("addr", "add", f"{host_ip}/30", "dev", net.host_link)
        _ip("-n", net.name, "addr", "add", f"{inside_ip}/30", "dev", peer)
        _ip("-n", net.name, "link", "set", "lo", "up")
        _ip("-n", net.name, "link", "set", peer, "up")
        net.restore()
        yield net
    finally:
        net.close()


@pytest.fixture
def netns() -> Iterator[Netns]:
    """A host of its own for one test: see the module's docstring."""
    with open_netns() as net:
        yield net
