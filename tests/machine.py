"""What the fleet's test fixtures ask of the machine (tests/postgres.py, tests/netns.py).

A facility they need and cannot have (PostgreSQL's binaries, root for network namespaces) skips
the test with the reason, except under SEALGUARD_REQUIRE_POSTGRES=1 (CI), where it fails. Both
name what they leave behind after the pytest process's id, so a later run removes what a run
killed with -9 left: only once that process is gone.
"""

import os

import pytest

from sealguard.observe.workdir import alive

__all__ = ["alive", "unavailable"]


def unavailable(reason: str) -> None:
    """Skip the test (fail it under SEALGUARD_REQUIRE_POSTGRES=1) for want of `reason`."""
    if os.environ.get("SEALGUARD_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"SEALGUARD_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)
