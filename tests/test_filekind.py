"""Reading a named file never blocks on, nor crashes at, something that is not a file."""

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sealguard.filekind import NotRegularFile, check_regular, read_regular

from .cli_run import run_cli
from .conftest import MakeTree


def test_a_regular_file_and_a_link_to_one_are_read(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"content")
    (tmp_path / "link").symlink_to(tmp_path / "a")
    assert read_regular(tmp_path / "a") == read_regular(tmp_path / "link") == b"content"


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        check_regular(tmp_path / "missing")


def test_each_kind_is_named_without_opening_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")  # opened for reading, it would wait for a writer
    (tmp_path / "folder").mkdir()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(tmp_path / "sock"))
    try:
        found = {}
        for name in ("fifo", "folder", "sock", os.devnull):
            with pytest.raises(NotRegularFile) as caught:
                read_regular(tmp_path / name)
            found[name] = str(caught.value)
    finally:
        listener.close()
    assert found == {
        "fifo": f"{tmp_path}/fifo: is a named pipe (FIFO), not a regular file",
        "folder": f"{tmp_path}/folder: is a folder, not a regular file",
        "sock": f"{tmp_path}/sock: is a socket, not a regular file",
        os.devnull: f"{os.devnull}: is a device, not a regular file",
    }


def test_a_baseline_replaced_by_a_fifo_is_an_incident_not_a_hang(make_project: MakeTree) -> None:
    project = make_project()
    argv = [sys.executable, "-m", "sealguard", "--project", str(project.root)]
    subprocess.run([*argv, "seal"], check=True, capture_output=True)
    project.baseline_file.unlink()
    os.mkfifo(project.baseline_file)
    # the timeout is a guard against the hang this test is about, not a measure
    result = subprocess.run(
        [*argv, "verify"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 3, result.stderr
    assert (
        "governance/BASELINE_REF.sha256  is a named pipe (FIFO), not a regular file [INV-D-01]"
        in result.stdout
    )


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (os.mkfifo, "is a named pipe (FIFO), not a regular file"),
        (os.mkdir, "is a folder, not a regular file"),
    ],
)
def test_a_configured_log_key_that_is_not_a_file_refuses_to_append(
    make_project: MakeTree, make: Callable[[Path], None], kind: str
) -> None:
    """`[ledger] key_file` is a path a person gives: appending never blocks on it."""
    project = make_project(
        config='[seal]\npaths = ["src/**"]\nfiles_only = true\n[ledger]\nkey_file = "k.pem"\n'
    )
    make(project.root / "k.pem")
    found = run_cli("--project", str(project.root), "seal", may_block=make is os.mkfifo)
    assert found[::2] == (
        3,
        f"sealguard: {project.root / 'k.pem'}: the log key cannot be read ({kind}); "
        "nothing was appended\n",
    )
