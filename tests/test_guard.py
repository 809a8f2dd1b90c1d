"""`sealguard guard` as git's pre-commit hook: a real repository, real `git commit` running the
hook, and real decisions signed with ssh-keygen keys. A commit may change a sealed path only to
what the baseline in force or a signed planned change holds."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sealguard.project import Project

from .decision_projects import Team, governed, key_args, run

SCRIPT = Path(sys.executable).parent / "sealguard"
RELEASE = "print('app 1.1')\n"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.org",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.org",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run(
        ["git", *args], cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _head(root: Path) -> str:
    return _git(root, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, team: Team) -> Project:
    """The sealed cat project (src/** sealed; data/ not) in a git repository with the hook."""
    project = governed(tmp_path, team)
    assert _git(project.root, "init", "-q", "-b", "main").returncode == 0
    hook = project.root / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\nexec {SCRIPT} guard\n")
    hook.chmod(0o755)
    _git(project.root, "add", "-A")
    first = _git(project.root, "commit", "-q", "-m", "the sealed build")
    assert first.returncode == 0, first.stderr  # the sealed content itself is covered
    return project


def _commit(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    _git(project.root, "add", "-A")
    return _git(project.root, "commit", "-q", "-m", "change", *args)


def test_a_commit_touching_sealed_paths_is_refused_one_line_per_path(repo: Project) -> None:
    before = _head(repo.root)
    (repo.root / "src/app.py").write_text("print('hot-fix')\n")
    (repo.root / "src/extra.py").write_text("import os\n")
    (repo.root / "data/value.txt").write_text("43\n")  # not sealed: not named
    done = _commit(repo)
    assert done.returncode != 0 and _head(repo.root) == before
    assert done.stderr.splitlines() == [
        "src/app.py: modified, a sealed path: the baseline in force (v1) does not hold it",
        "src/extra.py: added, a sealed path: the baseline in force (v1) does not hold it",
        "sealguard guard: commit refused; to change sealed paths, `sealguard propose --from "
        "STAGING`, have it signed (`sealguard decide PRO_… reseal`), then commit exactly that; "
        "or unstage them (`git restore --staged PATH`)",
    ]
    direct = subprocess.run(
        [SCRIPT, "guard"], cwd=repo.root, capture_output=True, text=True, timeout=120, check=False
    )
    assert direct.returncode == 4 and direct.stdout == ""


def test_paths_outside_the_seal_commit_freely(repo: Project) -> None:
    (repo.root / "data/value.txt").write_text("43\n")
    (repo.root / "notes.md").write_text("hello\n")
    done = _commit(repo)
    assert done.returncode == 0, done.stderr


def test_deleting_renaming_or_making_a_sealed_file_executable_is_refused(repo: Project) -> None:
    (repo.root / "src/app.py").chmod(0o755)
    done = _commit(repo)
    assert done.stderr.startswith("src/app.py: made executable, a sealed path: the baseline in "
                                  "force (v1) does not hold it"), done.stderr  # fmt: skip
    (repo.root / "src/app.py").chmod(0o644)
    _git(repo.root, "mv", "src/app.py", "src/main.py")
    done = _git(repo.root, "commit", "-q", "-m", "rename")
    assert done.stderr.splitlines()[:2] == [
        "src/app.py: deleted, but the baseline in force (v1) holds it",
        "src/main.py: added, a sealed path: the baseline in force (v1) does not hold it",
    ]


def test_commit_all_is_read_through_its_own_index(repo: Project) -> None:
    """`git commit -a` stages into a temporary index (GIT_INDEX_FILE): that is what is read."""
    (repo.root / "src/app.py").write_text("print('hot-fix')\n")
    done = _git(repo.root, "commit", "-q", "-a", "-m", "sneaky")
    assert done.returncode != 0 and done.stderr.startswith("src/app.py: modified"), done.stderr


def test_restoring_the_sealed_content_is_covered(repo: Project) -> None:
    (repo.root / "src/app.py").write_text("print('hot-fix')\n")
    assert _git(repo.root, "add", "-A").returncode == 0
    assert _git(repo.root, "commit", "-q", "--no-verify", "-m", "bypassed").returncode == 0
    (repo.root / "src/app.py").write_text("print('app')\n")  # back to what is sealed
    done = _commit(repo)
    assert done.returncode == 0, done.stderr


def _propose(repo: Project, tmp_path: Path) -> str:
    staging = tmp_path / "staging"
    shutil.copytree(repo.root, staging, ignore=shutil.ignore_patterns(".git", "runtime"))
    (staging / "src/app.py").write_text(RELEASE)
    proposed = run(repo, "propose", "--from", str(staging), "--reason", "release 1.1")
    assert proposed.exit_code == 0, proposed.output
    return proposed.output.split(":")[0]


def test_a_signed_planned_change_covers_exactly_its_content(
    repo: Project, tmp_path: Path, team: Team
) -> None:
    pro = _propose(repo, tmp_path)
    (repo.root / "src/app.py").write_text(RELEASE)
    unsigned = _commit(repo)  # proposed, not decided: it covers nothing
    assert unsigned.stderr.startswith("src/app.py: modified, a sealed path: the baseline"), (
        unsigned.stderr
    )
    decided = run(repo, "decide", pro, "reseal", "--reason", "release 1.1 approved",
                  *key_args(team.alice))  # fmt: skip
    assert decided.exit_code == 0, decided.output
    dec = decided.output.split()[2]
    assert dec.startswith("DEC_"), decided.output
    (repo.root / "src/app.py").write_text(RELEASE + "# and a bit more\n")
    beyond = _commit(repo)
    assert beyond.returncode != 0
    first = beyond.stderr.splitlines()[0]
    assert first.startswith(
        "src/app.py: modified, a sealed path: neither the baseline in force (v1) nor "
        f"the planned change v2 ({pro}, "
    ), first
    assert first.endswith(f"{pro}, {dec}) holds it"), first
    (repo.root / "src/app.py").write_text(RELEASE)
    done = _commit(repo)
    assert done.returncode == 0, done.stderr


def test_a_decided_proposal_edited_afterwards_covers_nothing(
    repo: Project, tmp_path: Path, team: Team
) -> None:
    pro = _propose(repo, tmp_path)
    decided = run(repo, "decide", pro, "reseal", "--reason", "ok", *key_args(team.alice))
    assert decided.exit_code == 0, decided.output
    manifest = repo.runtime / "proposals" / pro / "BASELINE_REF.sha256"
    manifest.write_text(manifest.read_text().replace("\n", "\n# edited\n", 1))
    (repo.root / "src/app.py").write_text(RELEASE)
    done = _commit(repo)
    assert done.returncode != 0, done.stderr
    assert done.stderr.splitlines()[0] == (
        "src/app.py: modified, a sealed path: the baseline in force (v1) does not hold it"
    )


def test_a_forged_decision_covers_nothing(repo: Project, tmp_path: Path, team: Team) -> None:
    """A decision line whose signature does not hold (INV-D-06): nothing is trusted."""
    pro = _propose(repo, tmp_path)
    decided = run(repo, "decide", pro, "reseal", "--reason", "ok", *key_args(team.alice))
    assert decided.exit_code == 0, decided.output
    log = repo.log_file.read_text().splitlines()
    index = next(i for i, line in enumerate(log) if '"type":"decision"' in line)
    log[index] = log[index].replace("ok", "OK", 1)
    repo.log_file.write_text("\n".join(log) + "\n")
    (repo.root / "src/app.py").write_text(RELEASE)
    done = _commit(repo)
    assert done.stderr.splitlines() == [
        "src/app.py: modified, a sealed path: no baseline can be trusted to cover it",
        "sealguard guard: commit refused: the governance log's decisions or baseline do not "
        "hold (run `sealguard verify`)",
    ]


def test_nothing_sealed_guards_nothing(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    (root / "governance").mkdir(parents=True)
    (root / "governance/sealguard.toml").write_text('[seal]\npaths = ["src/**"]\n')
    _git(root, "init", "-q")
    done = subprocess.run(
        [SCRIPT, "guard"], cwd=root, capture_output=True, text=True, timeout=120, check=False
    )
    assert (done.returncode, done.stdout) == (
        0,
        "sealguard guard: nothing is sealed here yet; no path is guarded\n",
    )


def test_in_process_the_guard_reads_the_index_not_the_tree(repo: Project, invoke) -> None:  # type: ignore[no-untyped-def]
    (repo.root / "src/app.py").write_text("print('hot-fix')\n")
    assert _git(repo.root, "add", "src/app.py").returncode == 0
    (repo.root / "src/app.py").write_text(
        "print('app')\n"
    )  # the tree is sealed again; the index is not
    os.symlink("app.py", repo.root / "src/link.py")
    assert _git(repo.root, "add", "src/link.py").returncode == 0
    result = invoke("--project", str(repo.root), "guard")
    assert result.exit_code == 4
    assert result.stderr.splitlines()[:2] == [
        "src/app.py: modified, a sealed path: the baseline in force (v1) does not hold it",
        "src/link.py: added, a sealed path: the baseline in force (v1) does not hold it",
    ]
    _git(repo.root, "reset", "-q")
    assert invoke("--project", str(repo.root), "guard").exit_code == 0


def test_outside_a_repository_the_guard_says_so(tmp_path: Path, team: Team, invoke) -> None:  # type: ignore[no-untyped-def]
    project = governed(tmp_path, team)
    result = invoke("--project", str(project.root), "guard")
    assert result.exit_code == 64
    assert result.stderr == (
        f"sealguard: not a git repository: {project.root} (run it from the repository's hook, "
        "or --project)\n"
    )


def test_a_symlink_is_held_to_its_target_and_a_deletion_to_an_absent_entry() -> None:
    from sealguard.seal.guard import Staged, holds
    from sealguard.seal.manifest import Entry

    link = Entry("src/l", "symlink", target="app.py")
    assert holds(link, Staged("src/l", "added", symlink="app.py"))
    assert not holds(link, Staged("src/l", "added", symlink="other.py"))
    assert not holds(link, Staged("src/l", "modified", "0" * 64))
    assert holds(None, Staged("src/l", "deleted")) and not holds(link, Staged("src/l", "deleted"))
    assert not holds(None, Staged("src/l", "added", "0" * 64))


def test_attributes_above_a_project_in_a_subfolder_are_read_as_its_checkout(
    tmp_path: Path, team: Team
) -> None:
    """A .gitattributes at the repository's top applies to the project below it: the sealed
    files a checkout of the commit would write differently are named; one in an unsealed folder
    changes nothing sealed."""
    project = governed(tmp_path, team)  # tmp_path/product, a subfolder of the repository
    assert _git(tmp_path, "init", "-q", "-b", "main").returncode == 0
    hook = tmp_path / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\nexec {SCRIPT} --project {project.root.name} guard\n")
    hook.chmod(0o755)
    (tmp_path / ".gitignore").write_text("runtime/\n")
    _git(tmp_path, "add", "-A")
    assert _git(tmp_path, "commit", "-q", "-m", "sealed").returncode == 0
    (project.root / "data" / ".gitattributes").write_text("* text eol=crlf\n")
    _git(tmp_path, "add", "-A")
    done = _git(tmp_path, "commit", "-q", "-m", "data only")
    assert done.returncode == 0, done.stderr
    (tmp_path / ".gitattributes").write_text("*.py text eol=crlf\n")
    _git(tmp_path, "add", "-A")
    done = _git(tmp_path, "commit", "-q", "-m", "line endings")
    assert done.returncode != 0
    assert done.stderr.splitlines()[0] == (
        "src/app.py: written differently on checkout (a staged .gitattributes applies to it), "
        "a sealed path: the baseline in force (v1) does not hold it"
    )


def test_a_change_is_named_with_its_mode_or_kind() -> None:
    from sealguard.seal.staged import _Diff

    a, b, z = "a" * 40, "b" * 40, "0" * 40
    assert _Diff("p", "modified", "100644", "100755", a, a).how() == "made executable"
    assert _Diff("p", "modified", "100755", "100644", a, b).how() == (
        "modified and no longer executable"
    )
    assert _Diff("p", "modified", "100644", "120000", a, b).how() == "replaced by a symlink"
    assert _Diff("p", "modified", "120000", "100644", a, b).how() == "a symlink replaced by a file"
    assert _Diff("p", "modified", "100644", "100644", a, b).how() == "modified"
    assert _Diff("p", "added", "000000", "100644", z, b).how() == "added"


def test_a_commit_of_many_sealed_files_is_read_in_batches(repo: Project) -> None:
    """More paths than one git command line takes (staged.py reads them 500 at a time)."""
    folder = repo.root / "src" / "gen"
    folder.mkdir()
    for n in range(1201):
        (folder / f"m{n:04}.py").write_text(f"N = {n}\n")
    done = _commit(repo)
    lines = done.stderr.splitlines()
    assert done.returncode != 0 and len(lines) == 1202, lines[-3:]
    assert lines[1200] == (
        "src/gen/m1200.py: added, a sealed path: the baseline in force (v1) does not hold it"
    )


def test_a_deletion_names_the_baselines_that_still_hold_the_path() -> None:
    from sealguard.seal.guard import Cover, Staged, refusals
    from sealguard.seal.manifest import Entry

    entry = Entry("src/a.py", "file", "0" * 64, 0o644)
    held = [Cover("the baseline in force (v1)", {"src/a.py": entry}), Cover("v2", {})]
    assert refusals([Staged("src/a.py", "deleted")], lambda _: True, held) == []
    both = [held[0], Cover("the planned change v2", {"src/a.py": entry})]
    [refusal] = refusals([Staged("src/a.py", "deleted")], lambda _: True, both)
    assert refusal.line() == (
        "src/a.py: deleted, but the baseline in force (v1) and the planned change v2 hold it"
    )


def test_a_staged_gitattributes_applies_below_its_folder() -> None:
    from sealguard.seal.staged import _Diff, _scopes

    def change(path: str) -> _Diff:
        return _Diff(path, "modified", "100644", "100644", "a" * 40, "b" * 40)

    diffs = [change(p) for p in (".gitattributes", "other/.gitattributes", "app/src/x.py")]
    assert _scopes(diffs, "app/") == [""]  # the repository's top: the whole project
    assert _scopes([change("app/data/.gitattributes")], "app/") == ["data/"]
    assert _scopes([change("app/data/.gitattributes"), diffs[1]], "") == ["app/data/", "other/"]
