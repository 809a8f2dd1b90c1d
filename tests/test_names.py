"""File names as people and JSON read them: any byte string the file system allows is reported,
escaped reversibly, and classified (B5)."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealguard.config import load_config
from sealguard.ledger import read_events
from sealguard.names import escape, unescape
from sealguard.project import Project
from sealguard.seal.manifest import parse_manifest
from sealguard.seal.sealing import seal

from .conftest import MakeTree

SRC_ONLY = '[seal]\npaths = ["src/**"]\nfiles_only = true\n'
# a name that is not UTF-8, one with newlines that imitates a verdict, one with a terminal
# escape sequence, one with a lone backslash, and a bidi override
AWKWARD = [
    b"\xff",
    b"a\n\nINTACT: all good",
    b"\x1b[2Jclear",
    b"back\\slash",
    b"evil\xe2\x80\xaetxt.exe",
]
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


@given(st.binary())
def test_escape_then_unescape_gives_back_the_bytes(raw: bytes) -> None:
    shown = escape(raw)
    assert unescape(shown) == raw
    shown.encode("utf-8")  # valid UTF-8: no lone surrogate is left
    assert not UNSAFE.search(shown)


@given(st.text())
def test_escape_of_text_names_is_reversible_and_safe(name: str) -> None:
    shown = escape(name)
    assert unescape(shown) == name.encode("utf-8")
    assert not UNSAFE.search(shown)


def test_escape_keeps_plain_utf8_and_uses_the_manifest_notation() -> None:
    assert escape("src/é/app.py") == "src/é/app.py"
    assert escape("a\\b\nc\rd\te") == "a\\\\b\\nc\\rd\\te"
    assert escape(os.fsdecode(b"\xff\x1b[2J")) == "\\xFF\\x1B[2J"
    assert escape("\u202e") == "\\xE2\\x80\\xAE"
    assert escape("\x85\x7f") == "\\xC2\\x85\\x7F"


@pytest.mark.parametrize("bad", ["\\", "a\\q", "\\x4", "\\xZZ"])
def test_unescape_refuses_what_escape_never_writes(bad: str) -> None:
    with pytest.raises(ValueError, match="escape"):
        unescape(bad)


def _sealed_with_awkward_names(make_project: MakeTree) -> Project:
    project = make_project({"src/calc/app.py": "x = 1\n"}, config=SRC_ONLY)
    seal(project, load_config(project.config_file), jobs=1)
    folder = os.fsencode(project.root / "src" / "calc")
    for name in AWKWARD:
        with open(folder + b"/" + name, "wb") as stream:
            stream.write(b"dropped in after sealing\n")
    return project


def _lines_naming(text: str) -> list[str]:
    return [line for line in text.splitlines() if "dropped" in line or "src/calc/" in line]


def test_verify_names_every_added_name_escaped_on_one_line(make_project: MakeTree, invoke) -> None:
    project = _sealed_with_awkward_names(make_project)
    result = invoke("--project", str(project.root), "verify")
    assert result.exit_code == 3
    text = result.stdout_bytes.decode("utf-8")  # strict: the output is valid UTF-8
    assert not UNSAFE.search(text.replace("\n", ""))
    lines = text.splitlines()
    assert not any(line.startswith("INTACT") for line in lines)
    for name in AWKWARD:
        shown = "src/calc/" + escape(name)
        assert f"  {shown}  new a file under the sealed paths [INV-D-02]" in lines


def test_verify_json_is_valid_utf8_and_round_trips_the_names(
    make_project: MakeTree, invoke
) -> None:
    project = _sealed_with_awkward_names(make_project)
    result = invoke("--project", str(project.root), "verify", "--json")
    assert result.exit_code == 3
    data = json.loads(result.stdout_bytes.decode("utf-8"))
    added = {unescape(d["path"]) for d in data["differences"] if d["change"] == "added"}
    assert added == {b"src/calc/" + name for name in AWKWARD}


def test_observe_journals_an_incident_and_halts(make_project: MakeTree, invoke) -> None:
    project = _sealed_with_awkward_names(make_project)
    root = str(project.root)
    result = invoke("--project", root, "observe")
    assert result.exit_code == 3, result.output
    assert result.output.startswith("INCIDENT (critical): RTE_")
    assert invoke("--project", root, "log", "verify").exit_code == 0
    status = json.loads(invoke("--project", root, "status", "--json").output)
    assert status["state"] == "HALTED"
    event = [e for e in read_events(project.log_file) if e["type"] == "runtime_event"][-1]
    assert event["classification"] == "INCIDENT"
    journaled = {unescape(v["path"]) for v in event["invariants_before"]}
    assert journaled == {b"src/calc/" + name for name in AWKWARD}


def test_watch_journals_the_incident_then_reports_halted(make_project: MakeTree, invoke) -> None:
    project = _sealed_with_awkward_names(make_project)
    root = str(project.root)
    result = invoke("--project", root, "watch", "--every", "0s", "--count", "2")
    assert result.exit_code == 3, result.output  # it stopped on an INCIDENT: HALTED
    assert result.output.startswith("INCIDENT (critical): RTE_")
    assert "watch: not observing. state: HALTED since " in result.output
    assert invoke("--project", root, "log", "verify").exit_code == 0
    assert json.loads(invoke("--project", root, "status", "--json").output)["state"] == "HALTED"


def test_a_tree_with_awkward_names_seals_and_verifies(make_project: MakeTree, invoke) -> None:
    project = make_project({"src/calc/app.py": "x = 1\n"}, config=SRC_ONLY)
    folder = os.fsencode(project.root / "src" / "calc")
    for name in AWKWARD:
        with open(folder + b"/" + name, "wb") as stream:
            stream.write(name)
    root = str(project.root)
    assert invoke("--project", root, "seal").exit_code == 0
    assert invoke("--project", root, "verify").exit_code == 0
    if shutil.which("sha256sum"):  # the manifest stays what GNU sha256sum reads
        done = subprocess.run(
            ["sha256sum", "-c", "--strict", "--quiet", "governance/BASELINE_REF.sha256"],
            cwd=project.root, capture_output=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    with open(folder + b"/\xff", "ab") as stream:
        stream.write(b"hot fix")
    result = invoke("--project", root, "verify", "--json")
    assert result.exit_code == 3
    differences = json.loads(result.stdout_bytes.decode("utf-8"))["differences"]
    assert [(d["change"], d["path"]) for d in differences] == [("modified", "src/calc/\\xFF")]


def test_sealing_a_special_file_with_an_awkward_name_refuses_on_one_line(
    make_project: MakeTree, invoke
) -> None:
    project = make_project({"src/calc/app.py": "x = 1\n"}, config=SRC_ONLY)
    os.mkfifo(os.fsencode(project.root / "src" / "calc") + b"/\x1bc\nfifo\xff")
    result = invoke("--project", str(project.root), "seal")
    assert result.exit_code == 65
    assert result.stderr == (
        "sealguard: src/calc/\\x1Bc\\nfifo\\xFF: is a special file (device, FIFO or socket); "
        "exclude it\n"
    )


def test_a_non_utf8_name_in_the_runtime_area_is_inv_d_04(make_project: MakeTree, invoke) -> None:
    project = make_project({"src/calc/app.py": "x = 1\n"}, config=SRC_ONLY)
    seal(project, load_config(project.config_file), jobs=1)
    with open(os.fsencode(project.runtime) + b"/\xfe\x1b]0;x\x07", "wb") as stream:
        stream.write(b"not written by sealguard")
    result = invoke("--project", str(project.root), "verify", "--json")
    assert result.exit_code == 3
    data = json.loads(result.stdout_bytes.decode("utf-8"))
    assert [(d["invariant"], d["path"]) for d in data["differences"]] == [
        ("INV-D-04", "governance/runtime/\\xFE\\x1B]0;x\\x07")
    ]


def test_the_event_encoder_names_a_field_that_is_not_utf8() -> None:
    from sealguard.ledger.canonical import EventValueError, encode_event

    with pytest.raises(EventValueError, match=r"event\.violations\[0\]\.path: text holds bytes"):
        encode_event({"violations": [{"path": os.fsdecode(b"src/\xff")}]})
    assert encode_event({"path": escape(b"src/\xff")}) == b'{"path":"src/\\\\xFF"}'


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_init_names_awkward_tracked_files_in_a_valid_config(tmp_path: Path, invoke) -> None:
    root = tmp_path / "repo"
    (root / "lib").mkdir(parents=True)
    tracked = [b"lib/\xff", b"lib/new\nline", b'lib/quote"\x7f\x1b', b"lib/back\\slash"]
    for name in [*tracked, b"lib/untracked"]:  # a partly tracked folder: names are listed
        with open(os.fsencode(root) + b"/" + name, "wb") as stream:
            stream.write(name)
    git = ["git", "-c", "core.quotepath=off"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "--", *map(os.fsdecode, tracked)], cwd=root, check=True)
    assert invoke("--project", str(root), "init").exit_code == 0
    config = root / "governance/sealguard.toml"  # no test runner here: a files-only seal
    config.write_text(config.read_text().replace("# files_only = true", "files_only = true"))
    assert invoke("--project", str(root), "seal").exit_code == 0
    sealed = {e.path for e in parse_manifest(Project(root).baseline_file.read_bytes(), "m").entries}
    assert {os.fsencode(p) for p in sealed if p.startswith("lib/")} == set(tracked)
