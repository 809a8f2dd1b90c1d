"""verify: every kind of tamper is detected and named, and an intact build says so."""

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.project import Project
from sealguard.seal import hashing
from sealguard.seal.integrity import Difference
from sealguard.seal.sealing import seal
from sealguard.seal.verify import verify
from sealguard.workers import WorkerFailed

from .conftest import MakeTree

SRC_ONLY = '[seal]\npaths = ["src/**"]\nfiles_only = true\n'


def sealed(
    make_project: MakeTree, files: dict[str, str | bytes] | None = None, **kw: str
) -> Project:
    project = make_project(files, **kw)
    seal(project, load_config(project.config_file), jobs=1)
    return project


def changes(project: Project, jobs: int = 1) -> set[tuple[str, str]]:
    report = verify(project, load_config(project.config_file), jobs)
    return {(d.change, d.path) for d in report.differences}


def test_an_untouched_build_is_intact(make_project: MakeTree, invoke) -> None:
    project = sealed(make_project)
    result = invoke("--project", str(project.root), "verify")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("INTACT: 4 files and 0 symlinks match the baseline")


def test_content_change_is_named(make_project: MakeTree, invoke) -> None:
    project = sealed(make_project)
    (project.root / "src/app.py").write_text("print('patched')\n")
    result = invoke("--project", str(project.root), "verify")
    assert result.exit_code == 3
    assert "INCIDENT" in result.output
    assert "modified:\n  src/app.py  content changed" in result.output


def test_mode_change(make_project: MakeTree) -> None:
    project = sealed(make_project)
    os.chmod(project.root / "src/app.py", 0o755)
    report = verify(project, load_config(project.config_file), 1)
    assert [(d.change, d.path, d.detail) for d in report.differences] == [
        ("modified", "src/app.py", "mode changed 0644 -> 0755")
    ]


def test_added_file_under_sealed_paths(make_project: MakeTree) -> None:
    project = sealed(make_project)
    (project.root / "src/lib/new.py").write_text("x = 1\n")
    (project.root / "README.md").write_text("not sealed, so not reported\n")
    (project.root / "src/__pycache__").mkdir()
    (project.root / "src/__pycache__/app.pyc").write_bytes(b"excluded")
    assert changes(project) == {("added", "src/lib/new.py")}


def test_removed_file(make_project: MakeTree) -> None:
    project = sealed(make_project)
    (project.root / "tests/test_app.py").unlink()
    assert changes(project) == {("removed", "tests/test_app.py")}


def test_renamed_file_is_removed_plus_added(make_project: MakeTree) -> None:
    project = sealed(make_project)
    os.rename(project.root / "src/app.py", project.root / "src/main.py")
    assert changes(project) == {("removed", "src/app.py"), ("added", "src/main.py")}


def test_symlink_is_recorded_not_followed_and_retarget_is_caught(
    make_project: MakeTree, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("outside the sealed tree\n")
    project = make_project()
    os.symlink("app.py", project.root / "src/current")
    os.symlink(str(outside), project.root / "src/external")
    seal(project, load_config(project.config_file), jobs=1)
    baseline = project.baseline_file.read_text()
    assert '# symlink "src/current" -> "app.py"' in baseline
    outside.write_text("changed outside: a followed link would notice\n")
    assert changes(project) == set()
    os.unlink(project.root / "src/current")
    os.symlink("lib/util.py", project.root / "src/current")
    report = verify(project, load_config(project.config_file), 1)
    assert [(d.path, d.detail) for d in report.differences] == [
        ("src/current", "symlink retargeted: 'app.py' -> 'lib/util.py'")
    ]


def test_file_replaced_by_directory(make_project: MakeTree) -> None:
    project = sealed(make_project)
    target = project.root / "src/app.py"
    target.unlink()
    target.mkdir()
    (target / "inner.py").write_text("")
    report = verify(project, load_config(project.config_file), 1)
    found = {(d.change, d.path, d.detail) for d in report.differences}
    assert ("modified", "src/app.py", "was a file, now a directory") in found
    assert ("added", "src/app.py/inner.py", "new a file under the sealed paths") in found


def test_directory_replaced_by_file(make_project: MakeTree) -> None:
    project = sealed(make_project)
    shutil.rmtree(project.root / "src/lib")
    (project.root / "src/lib").write_text("now a file")
    report = verify(project, load_config(project.config_file), 1)
    found = {(d.change, d.path) for d in report.differences}
    assert found == {("removed", "src/lib/util.py"), ("added", "src/lib")}
    removed = next(d for d in report.differences if d.change == "removed")
    assert "a folder on its path is no longer a folder" in removed.detail


def test_file_replaced_by_symlink(make_project: MakeTree) -> None:
    project = sealed(make_project)
    (project.root / "src/app.py").unlink()
    os.symlink("lib/util.py", project.root / "src/app.py")
    report = verify(project, load_config(project.config_file), 1)
    assert [(d.change, d.detail) for d in report.differences] == [
        ("modified", "was a file, now a symlink to 'lib/util.py'")
    ]


def test_special_file_appearing_is_added(make_project: MakeTree) -> None:
    project = sealed(make_project)
    os.mkfifo(project.root / "src/pipe")
    assert changes(project) == {("added", "src/pipe")}


def test_unreadable_file_is_reported_not_a_crash(
    make_project: MakeTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = sealed(make_project)
    real_open = os.open

    def deny(path, flags, mode=0o777, *, dir_fd=None):  # type: ignore[no-untyped-def]
        if path == "src/app.py":
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, mode, dir_fd=dir_fd)

    if os.geteuid() != 0:  # a real permission error when the tests are not root
        os.chmod(project.root / "src/app.py", 0o000)
    else:  # root reads everything, so the refusal is simulated at the one open() that counts
        monkeypatch.setattr(hashing.os, "open", deny)
    report = verify(project, load_config(project.config_file), 1)
    assert [(d.change, d.path, d.detail) for d in report.differences] == [
        ("unreadable", "src/app.py", "cannot be read: Permission denied")
    ]


def test_baseline_edited_is_inv_d_01_and_tree_not_trusted(make_project: MakeTree, invoke) -> None:
    project = sealed(make_project)
    with project.baseline_file.open("a") as stream:
        stream.write("# a harmless-looking comment\n")
    result = invoke("--project", str(project.root), "verify", "--json")
    assert result.exit_code == 3
    data = json.loads(result.output)
    assert data["differences"] == [
        {
            "change": "modified",
            "path": "governance/BASELINE_REF.sha256",
            "detail": "differs from the baseline the governance log recorded as sealed",
            "invariant": "INV-D-01",
        }
    ]
    assert data["not_checked"] and data["intact"] is False


def test_baseline_removed(make_project: MakeTree) -> None:
    project = sealed(make_project)
    project.baseline_file.unlink()
    report = verify(project, load_config(project.config_file), 1)
    assert [(d.invariant, d.change) for d in report.differences] == [("INV-D-01", "removed")]


def test_baseline_without_log(make_project: MakeTree) -> None:
    project = sealed(make_project)
    project.log_file.unlink()
    report = verify(project, load_config(project.config_file), 1)
    assert [(d.invariant, d.detail) for d in report.differences] == [
        ("INV-D-03", "the governance log is gone"),
        ("INV-D-01", "no sealing of this baseline is recorded in the governance log"),
    ]


@pytest.mark.parametrize("gone", ["log", "runtime"])
def test_a_sealed_project_without_its_log_is_an_incident(
    make_project: MakeTree, invoke, gone: str
) -> None:
    """Issue 8 B6: before, `verify` exited 70 (FileNotFoundError) when the whole runtime area
    was gone, `status` said UNSEALED and `observe` 64 "nothing is sealed yet"."""
    import shutil

    project = sealed(make_project)
    if gone == "log":
        project.log_file.unlink()
    else:
        shutil.rmtree(project.runtime)
    result = invoke("--project", str(project.root), "verify")
    assert result.exit_code == 3, result.output
    assert "the governance log is gone" in result.output
    status = invoke("--project", str(project.root), "status")
    assert "UNSEALED" not in status.output
    assert "HALTED" in status.output
    log_verified = invoke("--project", str(project.root), "log", "verify")
    assert log_verified.exit_code == 3, log_verified.output  # before: 64 "no log yet"
    observed = invoke("--project", str(project.root), "observe")
    assert observed.exit_code == 3, observed.output


def test_not_sealed_is_a_usage_error(make_project: MakeTree, invoke) -> None:
    project = make_project()
    result = invoke("--project", str(project.root), "verify")
    assert result.exit_code == 64
    assert (
        result.stderr == f"sealguard: {project.root}: not sealed yet; run `sealguard seal` first\n"
    )


def test_json_report_of_an_intact_build(make_project: MakeTree, invoke) -> None:
    project = sealed(make_project)
    result = invoke("--project", str(project.root), "verify", "--json")
    data = json.loads(result.output)
    assert result.exit_code == 0
    assert data["intact"] is True and data["exit_code"] == 0
    assert data["checked"]["files"] == 4
    assert data["baseline"]["sha256"] == data["baseline"]["recorded_sha256"]
    assert data["counts"] == {"modified": 0, "added": 0, "removed": 0, "unreadable": 0}


def test_worker_processes_find_the_same_differences(make_project: MakeTree) -> None:
    files: dict[str, str | bytes] = {
        f"src/d{i % 7}/f{i}.txt": f"{i}\n" * (i % 50) for i in range(400)
    }
    files["src/big.bin"] = os.urandom(3 * hashing.BUFFER_SIZE + 17)
    project = sealed(make_project, files, config=SRC_ONLY)
    assert changes(project, jobs=2) == set()
    (project.root / "src/d3/f3.txt").write_text("changed")
    with (project.root / "src/big.bin").open("r+b") as stream:
        stream.seek(2 * hashing.BUFFER_SIZE + 5)
        stream.write(b"\x00")
    (project.root / "src/d1/f1.txt").unlink()
    assert changes(project, jobs=2) == {
        ("modified", "src/d3/f3.txt"),
        ("modified", "src/big.bin"),
        ("removed", "src/d1/f1.txt"),
    }


def test_a_dead_worker_fails_the_run_instead_of_passing(
    make_project: MakeTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    files: dict[str, str | bytes] = {f"src/f{i}.txt": str(i) for i in range(200)}
    project = sealed(make_project, files, config=SRC_ONLY)

    def die(span: tuple[int, int]) -> None:
        os._exit(9)  # a worker killed mid-run: its spans never come back

    monkeypatch.setattr(hashing, "_check_span", die)
    with pytest.raises(WorkerFailed, match="ended early"):
        verify(project, load_config(project.config_file), 2)


def test_differences_are_grouped_in_text(make_project: MakeTree, invoke) -> None:
    project = sealed(make_project)
    (project.root / "src/app.py").write_text("changed\n")
    (project.root / "src/extra.py").write_text("")
    (project.root / "package.json").unlink()
    result = invoke("--project", str(project.root), "verify")
    lines = result.output.splitlines()
    assert lines[0] == ("INCIDENT: INV-D-02 violated: 1 modified, 1 added, 1 removed, 0 unreadable")
    assert lines[1:] == [
        "modified:",
        lines[2],
        "added:",
        "  src/extra.py  new a file under the sealed paths [INV-D-02]",
        "removed:",
        "  package.json  sealed file is gone [INV-D-02]",
    ]
    assert lines[2].startswith("  src/app.py  content changed (sha256 ")


def test_difference_is_a_value() -> None:
    assert Difference("added", "a", "x") == Difference("added", "a", "x", "INV-D-02")


def test_the_config_is_sealed_with_the_build(make_project: MakeTree) -> None:
    project = sealed(make_project)
    with project.config_file.open("a") as stream:
        stream.write("# a quiet edit\n")
    report = verify(project, load_config(project.config_file), 1)
    assert [(d.invariant, d.change, d.path) for d in report.differences] == [
        ("INV-D-01", "modified", "governance/sealguard.toml")
    ]


# The tree check in workers against the plain reading of every path (issue 11, point 5):
# whatever is done to go faster, the report must be what `read_state`, `compare_entry`, a
# full walk and `find_added` say, in the manifest's order, each path once.

BIG = hashing.BUFFER_SIZE


def _many_kinds(root: Path) -> dict[str, str | bytes]:
    """A tree that spans many worker spans, with a large file first and files at the buffer's
    edges, so that one worker is still hashing while the other finishes the rest."""
    files: dict[str, str | bytes] = {"src/a/big.bin": os.urandom(24 * BIG + 3)}
    for size in (0, 1, BIG - 1, BIG, BIG + 1, 2 * BIG):
        files[f"src/edge/{size}.bin"] = os.urandom(size)
    for i in range(300):
        files[f"src/d{i % 9}/f{i:03d}.txt"] = f"{i}\n" * (i % 40)
    return files


def _tamper(root: Path) -> None:
    """One of each change a sealed path can undergo, spread over the spans."""
    src = root / "src"
    with (src / "a/big.bin").open("r+b") as stream:  # the last byte of the first, large file
        stream.seek(-1, os.SEEK_END)
        stream.write(b"\xff")
    (src / "edge/0.bin").write_bytes(b"grew")
    (src / f"edge/{BIG}.bin").write_bytes(os.urandom(BIG))
    (src / f"edge/{BIG + 1}.bin").write_bytes(b"")  # truncated
    os.chmod(src / "d0/f000.txt", 0o755)  # mode only
    (src / "d1/f001.txt").write_text("content only\n")
    (src / "d2/f002.txt").write_text("both\n")
    os.chmod(src / "d2/f002.txt", 0o600)
    (src / "d3/f003.txt").unlink()
    (src / "d4/f004.txt").unlink()
    (src / "d4/f004.txt").mkdir()  # a file became a folder, with a file in it
    (src / "d4/f004.txt/inner").write_text("")
    (src / "d5/f005.txt").unlink()
    os.symlink("f014.txt", src / "d5/f005.txt")  # a file became a symlink
    os.symlink("../d0", src / "d6/link")  # added symlink to a folder: not walked into
    shutil.rmtree(src / "d7")
    os.symlink("d6", src / "d7")  # a sealed folder became a symlink: its files are gone
    (src / "d6/f006.txt").unlink()
    os.mkfifo(src / "d6/f006.txt")  # a file became a FIFO: never read, never waited on
    os.mkfifo(src / "d6/added-fifo")
    (src / "added.txt").write_text("")
    (src / "d1/f298.txt").write_text("near the end\n")
    (src / "d3/f039.txt").rename(src / "d3/f039.moved")
    shutil.rmtree(src / "d8")  # a folder gone, and a file where it was
    (src / "d8").write_text("a file where a folder was")


def _reference(project: Project, jobs: int) -> list[Difference]:
    """INV-D-02 by the plainest reading: every path's state, compared; a full walk; added."""
    from sealguard.globs import make_selector
    from sealguard.seal.integrity import FileState, compare_entry, find_added
    from sealguard.seal.manifest import parse_manifest
    from sealguard.seal.scan import scan

    manifest = parse_manifest(project.baseline_file.read_bytes(), "baseline")
    root_fd = os.open(project.root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        states = hashing.hash_paths(root_fd, [e.path for e in manifest.entries], jobs)
    finally:
        os.close(root_fd)
    found = [compare_entry(e, s) for e, s in zip(manifest.entries, states, strict=True)]
    present = [
        FileState(s.path, s.kind, target=os.readlink(project.root / s.path))
        if s.kind == "symlink"
        else s
        for s in scan(project.root, make_selector(manifest.paths, manifest.exclude))
    ]
    return [d for d in found if d] + find_added((e.path for e in manifest.entries), present)


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_tree_check_says_what_reading_each_path_says_in_manifest_order(
    make_project: MakeTree, jobs: int
) -> None:
    project = sealed(make_project, _many_kinds(Path()), config=SRC_ONLY)
    _tamper(project.root)
    expected = _reference(project, 1)
    paths = [d.path for d in expected]
    assert len(paths) == len(set(paths))  # each path once
    gone = {(d.change, d.path) for d in expected if d.path.startswith(("src/d7/", "src/d8/"))}
    assert gone == {
        ("removed", p) for p in _many_kinds(Path()) if p.startswith(("src/d7/", "src/d8/"))
    }
    assert [(d.change, d.path) for d in expected if (d.change, d.path) not in gone] == [
        ("modified", "src/a/big.bin"),
        ("modified", "src/d0/f000.txt"),
        ("modified", "src/d1/f001.txt"),
        ("modified", "src/d1/f298.txt"),
        ("modified", "src/d2/f002.txt"),
        ("removed", "src/d3/f003.txt"),
        ("removed", "src/d3/f039.txt"),
        ("modified", "src/d4/f004.txt"),
        ("modified", "src/d5/f005.txt"),
        ("modified", "src/d6/f006.txt"),
        ("modified", "src/edge/0.bin"),
        ("modified", f"src/edge/{BIG}.bin"),
        ("modified", f"src/edge/{BIG + 1}.bin"),
        ("added", "src/d8"),
        ("added", "src/d7"),
        ("added", "src/added.txt"),
        ("added", "src/d4/f004.txt/inner"),
        ("added", "src/d3/f039.moved"),
        ("added", "src/d6/link"),
        ("added", "src/d6/added-fifo"),
    ]
    added_link = next(d for d in expected if d.path == "src/d6/link")
    assert added_link.detail == "new a symlink to '../d0' under the sealed paths"
    for _ in range(3):  # the order must not depend on which worker finishes first
        report = verify(project, load_config(project.config_file), jobs)
        assert report.differences == expected
        assert report.not_checked == []


def test_the_bytes_and_counts_are_those_of_the_sealed_files(make_project: MakeTree) -> None:
    files = _many_kinds(Path())
    project = make_project(files, config=SRC_ONLY)
    os.symlink("d0/f000.txt", project.root / "src/link")
    seal(project, load_config(project.config_file), jobs=1)
    for jobs in (1, 2):
        report = verify(project, load_config(project.config_file), jobs)
        assert report.intact
        # the config, and its copy in governance/baseline/
        assert (report.files, report.symlinks, report.governance_files) == (len(files), 1, 2)
        sealed_bytes = sum(len(c) for c in files.values())
        config_bytes = len(project.config_file.read_bytes())
        assert report.bytes == sealed_bytes + 2 * config_bytes


def test_an_unreadable_file_among_many_is_reported_once(
    make_project: MakeTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = sealed(make_project, _many_kinds(Path()), config=SRC_ONLY)
    real_open = os.open

    def deny(path, flags, mode=0o777, *, dir_fd=None):  # type: ignore[no-untyped-def]
        if path == "src/d4/f013.txt":
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(hashing.os, "open", deny)  # forked workers inherit it
    report = verify(project, load_config(project.config_file), 2)
    assert [(d.change, d.path, d.detail) for d in report.differences] == [
        ("unreadable", "src/d4/f013.txt", "cannot be read: Permission denied")
    ]


def test_the_log_comes_first_then_the_baseline_then_the_tree(make_project: MakeTree) -> None:
    """The log is checked while the tree is hashed; the report keeps the order of the
    invariants it always had: INV-D-03, 04, 07, 06, then INV-D-01, then INV-D-02."""
    project = sealed(make_project, _many_kinds(Path()), config=SRC_ONLY)
    (project.runtime / "dropped-here.txt").write_text("not written by sealguard\n")
    (project.root / "src/d1/f001.txt").write_text("changed\n")
    (project.root / "src/zz-added.txt").write_text("")
    report = verify(project, load_config(project.config_file), 2)
    assert [(d.invariant, d.change) for d in report.differences] == [
        ("INV-D-04", "added"),
        ("INV-D-02", "modified"),
        ("INV-D-02", "added"),
    ]
    with project.baseline_file.open("a") as stream:
        stream.write("# edited\n")
    report = verify(project, load_config(project.config_file), 2)
    assert [(d.invariant, d.change) for d in report.differences] == [
        ("INV-D-04", "added"),
        ("INV-D-01", "modified"),
    ]
    assert report.not_checked == [
        "INV-D-02: the baseline cannot be trusted, so the tree was not compared with it"
    ]


def test_verify_starts_without_the_narrative_modules(make_project: MakeTree) -> None:
    """`verify` never renders an observation, an incident or an escalation: their modules
    (and jinja2, markdown-it) are not imported at start-up."""
    import subprocess
    import sys

    project = sealed(make_project)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sealguard", "--project", str(project.root),
         "verify"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines()}
    assert "sealguard.seal.verify" in imported
    assert not imported & {"sealguard.report.narrative", "jinja2", "markdown_it"}


def test_the_command_line_leaves_its_objects_frozen_for_the_exit(make_project: MakeTree) -> None:
    """The exit frees what `verify` leaves (100,000 manifest entries on a large tree) without
    full collections over it, which cost up to a tenth of a second; the report is the same."""
    import subprocess
    import sys

    project = sealed(make_project)
    code = (
        "import gc, sys\n"
        "from sealguard.cli import main\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    print('frozen', gc.get_freeze_count() > 0, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "--project", str(project.root), "verify"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0
    assert done.stdout.startswith("INTACT: ")
    assert done.stderr.splitlines()[-1] == "frozen True"


def test_a_log_audited_by_its_own_workers_while_the_tree_is_hashed(
    make_project: MakeTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit forks workers of its own for a large log; they run beside the hashing
    workers, and both reports are whole: the tampered line, and the changed file."""
    from sealguard.ledger import append_many
    from sealguard.ledger import auditor as audit_module

    project = sealed(make_project, _many_kinds(Path()), config=SRC_ONLY)
    ledger_ = project.ledger(load_config(project.config_file))
    for start in range(0, 120, 30):
        append_many(ledger_, [("bulk", {"i": i}) for i in range(start, start + 30)])
    monkeypatch.setattr(audit_module, "PARALLEL_FROM", 0)
    assert verify(project, load_config(project.config_file), 2).intact
    lines = project.log_file.read_bytes().splitlines(keepends=True)
    lines[50] = lines[50].replace(b'"bulk"', b'"BULK"')
    project.log_file.write_bytes(b"".join(lines))
    (project.root / "src/d2/f011.txt").write_text("changed\n")
    report = verify(project, load_config(project.config_file), 2)
    found = [(d.invariant, d.path) for d in report.differences]
    assert found[-1] == ("INV-D-02", "src/d2/f011.txt")
    assert set(found[:-1]) == {("INV-D-03", "governance/runtime/GOVERNANCE_LOG.ndjson")}
    assert report.differences == verify(project, load_config(project.config_file), 1).differences
