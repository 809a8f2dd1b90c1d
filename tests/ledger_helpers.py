"""Small factories for ledger tests."""

from pathlib import Path

from sealguard.ledger import Ledger, append


def make_log(folder: Path, events: int, witness: Path | None = None) -> Ledger:
    ledger = Ledger.in_folder(folder, witness=witness)
    for i in range(events):
        append(ledger, "test_event", {"n": i, "note": f"event number {i}"})
    return ledger


def lines_of(ledger: Ledger) -> list[bytes]:
    return ledger.log.read_bytes().split(b"\n")[:-1]


def write_lines(ledger: Ledger, lines: list[bytes]) -> None:
    ledger.log.write_bytes(b"".join(line + b"\n" for line in lines))
