"""`log prove --url` and `log export --url`: the bundles of `log prove` and `log export`, made
from what the fleet database keeps, checked by `log check-proof` and the export's verify.py."""

import json
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from click.testing import Result

from sealguard.ledger import read_events
from sealguard.ledger.merkle import leaf_hash
from sealguard.ledger.proof import prove

from .fleet_logs import installed
from .shipped_logs import ShippedLog, shipped_log

if TYPE_CHECKING:
    from .postgres import PgDatabase

Invoke = Callable[..., Result]


def _named(log: ShippedLog) -> tuple[str, ...]:
    """The options that name `log` in its database."""
    return ("--url", log.url, "--origin", log.origin)


def test_a_proof_from_the_database_is_the_proof_from_the_files(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    log = shipped_log(pg_database, tmp_path / "rt", 5)
    target = tmp_path / "proof.json"
    result = invoke("log", "prove", *_named(log), "2", "-o", str(target))
    assert result.exit_code == 0
    assert result.output == f"wrote the inclusion proof of seq 2 to {target}\n"
    assert json.loads(target.read_text()) == prove(log.ledger, 2)
    key = read_events(log.ledger.log)[0]["log_key"]["verifier_key"]
    checked = invoke("log", "check-proof", str(target), "--key", key)
    assert checked.exit_code == 0, checked.output
    printed = invoke("log", "prove", *_named(log), "4")
    assert json.loads(printed.output) == prove(log.ledger, 4)


def test_a_proof_is_refused_past_the_checkpoint_or_over_altered_lines(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    log = shipped_log(pg_database, tmp_path / "rt", 3)
    result = invoke("log", "prove", *_named(log), "3")
    assert result.exit_code == 64
    assert result.stderr == (
        "sealguard: seq 3 is not covered by the latest checkpoint (it covers 0..2)\n"
    )
    line = log.lines[1].replace(b'"n":1', b'"n":8')
    log.edit(
        "UPDATE sealguard.entries SET line = %s, leaf = %s WHERE origin = %s AND seq = 1",
        line, leaf_hash(line), log.origin,
    )  # fmt: skip
    result = invoke("log", "prove", *_named(log), "0")
    assert result.exit_code == 3
    assert result.stderr == (
        f"sealguard: log {log.origin}: the database's lines do not give the root of its checkpoint "
        "at 3 lines; `sealguard log verify --url` says what was altered\n"
    )


def test_no_proof_before_a_checkpoint_and_none_of_an_unknown_log(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    url = installed(pg_database)
    with pg_database.connect() as conn:
        conn.execute("SELECT sealguard.enrol('o', 'k', 'calc', 'h1', NULL)")
    result = invoke("log", "prove", "--url", url, "--origin", "o", "0")
    assert result.exit_code == 64
    assert result.stderr == "sealguard: the fleet database accepted no checkpoint of log o yet\n"
    result = invoke("log", "prove", "--url", url, "--origin", "p", "0")
    assert result.stderr == "sealguard: the fleet database keeps no log p\n"
    result = invoke("log", "export", "--url", url, "--origin", "p", "-o", "x.tar.gz")
    assert result.exit_code == 64 and not Path("x.tar.gz").exists()


def test_an_export_from_the_database_verifies_offline(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    log = shipped_log(pg_database, tmp_path / "rt", 4)
    ledger = log.ledger
    target = tmp_path / "audit.tar.gz"
    result = invoke("log", "export", *_named(log), "-o", str(target))
    assert result.exit_code == 0
    assert result.output == (
        f"wrote {target}: GOVERNANCE_LOG.ndjson, checkpoint, checkpoint.history, log.vkey, "
        "README.txt, verify.py, DECISIONS.txt\n"
    )
    folder = tmp_path / "extracted"
    with tarfile.open(target) as archive:
        archive.extractall(folder, filter="data")
    assert (folder / "GOVERNANCE_LOG.ndjson").read_bytes() == ledger.log.read_bytes()
    assert (folder / "checkpoint.history").read_bytes() == ledger.history.read_bytes()
    assert (folder / "checkpoint").read_bytes() == ledger.checkpoint.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".sealguard-export")] == []
    done = subprocess.run(
        [sys.executable, "verify.py"], cwd=folder, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert invoke("log", "verify", "--dir", str(folder), "--full").exit_code == 0


def test_the_log_named_by_host_and_project_name(
    tmp_path: Path, pg_database: "PgDatabase", invoke: Invoke
) -> None:
    log = shipped_log(pg_database, tmp_path / "rt", 2, "calc", "h7")
    ledger = log.ledger
    named = ("--url", log.url, "--host", "h7", "--project-name", "calc")
    result = invoke("log", "prove", *named, "1")
    assert result.exit_code == 0 and json.loads(result.output) == prove(ledger, 1)
    target = tmp_path / "a.tar.gz"
    assert invoke("log", "export", *named, "-o", str(target)).exit_code == 0
    with tarfile.open(target) as archive:
        member = archive.extractfile("GOVERNANCE_LOG.ndjson")
        assert member is not None and member.read() == ledger.log.read_bytes()


def test_a_database_without_the_fleet_ledger_is_named(
    pg_database: "PgDatabase", invoke: Invoke
) -> None:
    url = pg_database.admin_url  # no `fleet init` there
    expected = (
        "sealguard: this database holds no fleet ledger (schema sealguard): "
        "`sealguard fleet init --url URL` makes it\n"
    )
    for args in (
        ("log", "verify", "--url", url, "--origin", "o"),
        ("log", "prove", "--url", url, "--host", "h1", "--project-name", "calc", "0"),
        ("fleet", "verify", "--url", url),
    ):
        result = invoke(*args)
        assert (result.exit_code, result.stderr) == (64, expected), args
