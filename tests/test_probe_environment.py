"""Probes do not inherit the channels' secrets (issue 8, D16): a probe that prints its
environment must not put a password or a token into the snapshot, the log or an export."""

from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.observe.observation import observe
from sealguard.project import Project
from sealguard.seal.sealing import seal

from .conftest import write_tree

SECRETS = {"SMTP_PW": "pw-6fa1c0", "HOOK_URL": "http://127.0.0.1:9/hook/tok-77e2", "HDR": "h-19ab"}
CONFIG = """\
[seal]
paths = ["src/**"]

[[probe]]
name = "env"
command = ["sh", "-c", "env; cat data/value.txt"]
normalize = []

[channels.email]
host = "127.0.0.1"
port = 9
from = "sealguard@example.org"
to = ["ops@example.org"]
username = "bot"
password_env = "SMTP_PW"
allow_plaintext_auth = true

[channels.webhook]
url_env = "HOOK_URL"
headers_env = { Authorization = "HDR" }
"""


def test_a_probe_printing_its_environment_leaks_no_channel_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PROBE_SEES_THIS", "ordinary-3c1d")
    root = tmp_path / "project"
    write_tree(
        root,
        {"src/a.py": "a = 1\n", "data/value.txt": "1\n", "governance/sealguard.toml": CONFIG},
    )
    project = Project(root)
    seal(project, load_config(project.config_file), jobs=1)
    (root / "data" / "value.txt").write_text("2\n")  # a drift: snapshot, export, outbox
    event = observe(project, load_config(project.config_file), jobs=1).event
    assert event.classification == "PRODUCT_DRIFT"
    written = b"".join(p.read_bytes() for p in (root / "governance").rglob("*") if p.is_file())
    assert b"ordinary-3c1d" in written  # the probe's environment did reach the evidence
    for value in SECRETS.values():
        assert value.encode() not in written, value
