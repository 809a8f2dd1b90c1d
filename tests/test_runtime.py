"""The runtime area's write-ahead announcements and leftovers (issue 8, A1; review finding)."""

import hashlib
from pathlib import Path

import pytest

from sealguard import runtime
from sealguard.config import load_config
from sealguard.ledger import read_events
from sealguard.lock import observer_lock
from sealguard.seal.verify import verify

from .probe_projects import cat_project


@pytest.mark.parametrize("planted", [False, True])
def test_a_leftover_is_adopted_only_with_the_announced_content(
    tmp_path: Path, planted: bool
) -> None:
    """Before: content planted at an announced path after a crash was journaled in the
    leftovers event as if sealguard had written it, and `verify` said 0."""
    project = cat_project(tmp_path)
    ledger_ = project.ledger(load_config(project.config_file))
    target = ledger_.folder / "events" / "RTE_20261127_000000_deadbeef.json"
    real = b'{"what": "sealguard was about to write this"}\n'
    runtime.announce(ledger_, [target], {target: hashlib.sha256(real).hexdigest()})
    target.parent.mkdir(parents=True)
    target.write_bytes(b'{"what": "an attacker wrote this"}\n' if planted else real)  # a crash
    config = load_config(project.config_file)
    assert verify(project, config, 1).intact  # announced, not recorded: a write under way
    with observer_lock(ledger_.folder):
        event = runtime.account_leftovers(ledger_)
    assert event is not None
    [kept] = event["files"]
    assert kept["sha256"] == hashlib.sha256(real).hexdigest()  # never the planted content's
    differences = verify(project, config, 1).differences
    assert [d.invariant for d in differences] == (["INV-D-04"] if planted else [])
    assert read_events(project.log_file)[-1]["type"] == "runtime_leftovers"
