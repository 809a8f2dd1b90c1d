"""Benchmark: time from the end of classification to delivery, at a local SMTP server and a
local webhook receiver (both real servers on loopback). Goal: under 1 s.

A sealed sample product drifts (its operational data changes); `observe` classifies it
PRODUCT_DRIFT, keeps the evidence, journals the event, records the escalation in the outbox and
delivers it. The time is taken from the moment the classifier returns to the moment each server
has the whole message. Best of 5 runs.

    python benchmarks/escalation.py      (needs the test extra: aiosmtpd)
"""

import json
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller

import sealguard.observe.observation as observe_module
from sealguard.config import load_config
from sealguard.demo import CONFIG, _copy_product
from sealguard.project import Project
from sealguard.seal.sealing import seal

ARRIVED: dict[str, float] = {}


class Mailbox:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        ARRIVED["smtp"] = time.perf_counter()
        return "250 OK"


class Hook(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ARRIVED["webhook"] = time.perf_counter()
        self.send_response(200)
        self.end_headers()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    http = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    classified: list[float] = []
    real_classify = observe_module.classify

    def stamped(facts):  # type: ignore[no-untyped-def]
        result = real_classify(facts)
        classified.append(time.perf_counter())
        return result

    observe_module.classify = stamped
    escalation = (
        f'\n[channels.email]\nhost = "127.0.0.1"\nport = {smtp.port}\n'
        'from = "s@example.org"\nto = ["a@example.org"]\n'
        f'\n[channels.webhook]\nurl = "http://127.0.0.1:{http.server_address[1]}/hook"\n'
        '\n[escalation]\nPRODUCT_DRIFT = { channels = ["webhook", "email"], deadline = "15m" }\n'
    )
    results: dict[str, list[float]] = {"smtp": [], "webhook": []}
    for _ in range(5):
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder) / "fuelcalc"
            _copy_product(root)
            (root / "governance").mkdir()
            (root / "governance/sealguard.toml").write_text(
                CONFIG.format(python=json.dumps(sys.executable)) + escalation
            )
            project = Project(root)
            seal(project, load_config(project.config_file), 1)
            (root / "data/reserve.json").write_text('{"reserve_kg": 1000}')
            ARRIVED.clear()
            observation = observe_module.observe(project, load_config(project.config_file), 1)
            assert observation.event.classification == "PRODUCT_DRIFT"
            for channel, times in results.items():
                times.append(ARRIVED[channel] - classified[-1])
    smtp.stop()
    http.shutdown()
    for channel, times in results.items():
        print(
            f"end of classification -> delivered at the local {channel:8s} "
            f"best {min(times):.3f} s, worst {max(times):.3f} s (goal: under 1 s)"
        )


if __name__ == "__main__":
    main()
