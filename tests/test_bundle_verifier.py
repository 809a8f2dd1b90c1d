"""The verifier shipped in every log export (`verify.py`): it needs no sealguard, and it agrees
with `sealguard log verify --dir` on every log it is shown."""

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from sealguard.errors import EvidenceWriteError
from sealguard.ledger import Ledger, append
from sealguard.ledger import bundle_verifier as standalone
from sealguard.ledger.note import split_history

from .conftest import MakeTree
from .ledger_helpers import audit, cut_writes_to, lines_of, make_log, write_lines

WITNESSED = '[seal]\npaths = ["src/**"]\nfiles_only = true\n[ledger]\nwitness = "{witness}"\n'


def _export(invoke, project_root: Path, out: Path) -> Path:  # type: ignore[no-untyped-def]
    """`sealguard log export`, extracted into `out`."""
    target = out.with_suffix(".tar.gz")
    result = invoke("--project", str(project_root), "log", "export", "-o", str(target))
    assert result.exit_code == 0, result.output
    with tarfile.open(target) as archive:
        archive.extractall(out, filter="data")
    return out


@pytest.fixture
def exported(make_project: MakeTree, invoke, tmp_path: Path) -> Path:
    """A real export: a sealed project with a witness, four more events, extracted."""
    witness = tmp_path / "witness"
    project = make_project(config=WITNESSED.format(witness=witness))
    assert invoke("--project", str(project.root), "seal").exit_code == 0
    ledger = Ledger.in_folder(project.runtime, witness=witness)
    for i in range(4):
        append(ledger, "note", {"i": i, "text": f"note number {i}, café"})
    return _export(invoke, project.root, tmp_path / "bundle")


def _problems(folder: Path) -> list[tuple[str, str, int | None]]:
    """What `sealguard log verify --dir` finds, as (kind, message, line)."""
    folder = folder.resolve()
    witness = folder / "witness"
    report = audit(Ledger.in_folder(folder, witness=witness if witness.is_dir() else None))
    return [(p.kind, p.message, p.line) for p in report.problems]


def _standalone(folder: Path) -> list[tuple[str, str, int | None]]:
    return [(p.kind, p.message, p.line) for p in standalone.check(folder).problems]


def test_every_export_carries_the_verifier_and_says_how_to_run_it(exported: Path) -> None:
    readme = (exported / "README.txt").read_text()
    assert "pip install sealguard" not in readme
    assert "python3 verify.py" in readme and "pip install cryptography" in readme
    assert (exported / "verify.py").read_bytes() == Path(standalone.__file__).read_bytes()


# ----- in a fresh venv, without sealguard ---------------------------------------------------


def _clean_env(home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**keep, "HOME": str(home), "PIP_NO_CACHE_DIR": "1", "PIP_NO_INPUT": "1"}


def _copy_of_cryptography(target: Path) -> Path:
    """Only cryptography and its dependencies, from this environment (no sealguard)."""
    import cffi
    import cryptography
    import pycparser

    target.mkdir()
    for module in (cryptography, cffi, pycparser):
        shutil.copytree(Path(module.__file__ or "").parent, target / module.__name__)
    site = Path(cffi.__file__ or "").parent.parent
    for backend in site.glob("_cffi_backend*"):
        shutil.copy2(backend, target / backend.name)
    return target


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., object]]:
    """A python in a fresh venv: cryptography installed from the configured index, no sealguard.
    Where pip cannot install, cryptography and its dependencies alone are put on its path."""
    base = tmp_path_factory.mktemp("bare")
    env = _clean_env(base)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "cryptography"],
        env=env,
        capture_output=True,
        check=False,
    )
    if installed.returncode != 0:
        env["PYTHONPATH"] = str(_copy_of_cryptography(base / "only-cryptography"))
    found = subprocess.run(
        [str(python), "-c", "import sealguard"], env=env, capture_output=True, check=False
    )
    assert found.returncode == 1 and b"No module named 'sealguard'" in found.stderr

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )

    yield run


def _sealguard_says(invoke, folder: Path) -> tuple[int, list[str]]:  # type: ignore[no-untyped-def]
    result = invoke("log", "verify", "--dir", str(folder), "--json")
    return result.exit_code, [p["kind"] for p in json.loads(result.output)["problems"]]


def test_verify_py_in_a_venv_without_sealguard(exported: Path, bare_python, invoke) -> None:
    intact = bare_python("verify.py", cwd=exported)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert intact.stdout.startswith("INTACT: 6 lines, tree root ")
    assert _sealguard_says(invoke, exported) == (0, [])

    lines = (exported / "GOVERNANCE_LOG.ndjson").read_bytes().split(b"\n")

    tampered = exported.parent / "tampered"
    shutil.copytree(exported, tampered)
    (tampered / "GOVERNANCE_LOG.ndjson").write_bytes(
        b"\n".join(lines).replace(b"note number 2", b"note number 7")
    )
    result = bare_python("verify.py", cwd=tampered)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "FORK (line 5 altered, inserted or removed)" in result.stdout.splitlines()[0]
    assert _sealguard_says(invoke, tampered) == (3, ["FORK", "FORK", "FORK", "FORK"])

    dropped = exported.parent / "dropped"
    shutil.copytree(exported, dropped)
    (dropped / "GOVERNANCE_LOG.ndjson").write_bytes(b"\n".join(lines[:3] + lines[4:]))
    result = bare_python("verify.py", cwd=dropped)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "line 4: seq is 4, expected 3 (a line removed, inserted or moved?)" in result.stdout
    assert _sealguard_says(invoke, dropped)[0] == 3

    forged = exported.parent / "forged"
    shutil.copytree(exported, forged)
    notes = split_history((forged / "checkpoint.history").read_text())
    body, signature = notes[2].rsplit(" ", 1)
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    notes[2] = f"{body} {flipped}"
    (forged / "checkpoint.history").write_text("".join(n + "\n" for n in notes))
    result = bare_python("verify.py", cwd=forged)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "checkpoint.history #3: not signed by the log key of line 1" in result.stdout
    assert _sealguard_says(invoke, forged) == (3, ["SIGNATURE"])

    for folder in (tampered, dropped, forged):  # each case: the same findings, word for word
        assert _standalone(folder) == _problems(folder)


def test_verify_py_names_a_folder_that_is_no_export(bare_python, tmp_path: Path) -> None:
    script = tmp_path / "verify.py"
    shutil.copy(standalone.__file__, script)
    (tmp_path / "empty").mkdir()
    result = bare_python(str(script), str(tmp_path / "empty"), cwd=tmp_path)
    assert result.returncode == 64 and "no governance log" in result.stderr
    (tmp_path / "unreadable").mkdir()
    (tmp_path / "unreadable" / "GOVERNANCE_LOG.ndjson").mkdir()
    result = bare_python(str(script), str(tmp_path / "unreadable"), cwd=tmp_path)
    assert result.returncode == 65 and "is not a regular file" in result.stderr, result.stderr


# ----- word for word the same findings as `sealguard log verify --dir` ------------------------


def _edit_line(folder: Path, number: int, old: bytes, new: bytes) -> None:
    log = folder / "GOVERNANCE_LOG.ndjson"
    lines = log.read_bytes().split(b"\n")
    lines[number - 1] = lines[number - 1].replace(old, new)
    log.write_bytes(b"\n".join(lines))


def _line(folder: Path, number: int) -> bytes:
    return (folder / "GOVERNANCE_LOG.ndjson").read_bytes().split(b"\n")[number - 1]


def _set_line(folder: Path, number: int, new: bytes) -> None:
    log = folder / "GOVERNANCE_LOG.ndjson"
    lines = log.read_bytes().split(b"\n")
    lines[number - 1] = new
    log.write_bytes(b"\n".join(lines))


def _resign_line(folder: Path, number: int, change: Callable[[dict[str, object]], None]) -> None:
    log = folder / "GOVERNANCE_LOG.ndjson"
    lines = log.read_bytes().split(b"\n")
    event = json.loads(lines[number - 1])
    change(event)  # written as sealguard writes, even where sealguard would refuse to
    lines[number - 1] = json.dumps(
        event, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    log.write_bytes(b"\n".join(lines))


def _history(folder: Path, change: Callable[[list[str]], list[str]]) -> None:
    notes = change(split_history((folder / "checkpoint.history").read_text()))
    (folder / "checkpoint.history").write_text("".join(n + "\n" for n in notes))


def _unsign_record(folder: Path) -> None:
    record_file = next((folder / "witness" / "logs").glob("*.json"))
    record = json.loads(record_file.read_text())
    record["checkpoint"] = record["checkpoint"].replace("\n\n", "\n\nnot a signature\n", 1)
    record_file.write_text(json.dumps(record))


def _refused(folder: Path) -> None:
    """Two refusals: one before the record's latest cosignature (settled), one after it."""
    record_file = next((folder / "witness" / "logs").glob("*.json"))
    accepted = json.loads(record_file.read_text())["accepted"]
    refusal = '{"after":%d,"at":"2026-01-0%dT00:00:00Z","reason":"a fork","status":409}\n'
    record_file.with_suffix(".refused").write_text(refusal % (1, 1) + refusal % (accepted, 2))


def _to_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _resealed(folder: Path) -> None:
    """The witness keeps this very folder as the log of another origin."""
    record_file = next((folder / "witness" / "logs").glob("*.json"))
    record = json.loads(record_file.read_text())
    record["origin"], record["project"] = "another/log", str(folder.resolve())
    record_file.unlink()
    (record_file.parent / "other.json").write_text(json.dumps(record))


def _symlink(path: Path) -> None:
    moved = path.with_name(path.name + ".elsewhere")
    path.rename(moved)
    path.symlink_to(moved)


TAMPERINGS: dict[str, Callable[[Path], None]] = {
    "intact": lambda f: None,
    "a float": lambda f: _edit_line(f, 3, b'"i":0', b'"i":0.5'),
    "a huge number": lambda f: _edit_line(f, 3, b'"i":0', b'"i":' + b"9" * 30),
    "out of range": lambda f: _edit_line(f, 3, b'"i":0', b'"i":1e999'),
    "NaN": lambda f: _edit_line(f, 3, b'"i":0', b'"i":NaN'),
    "a lone surrogate": lambda f: _edit_line(f, 3, b"caf\xc3\xa9", b"caf\\ud800"),
    "escaped needlessly": lambda f: _edit_line(f, 3, b"caf\xc3\xa9", b"caf\\u00e9"),
    "spaces": lambda f: _edit_line(f, 3, b'"i":0', b'"i": 0'),
    "key order": lambda f: _edit_line(f, 3, b'{"i":0,', b'{"zz":1,"i":0,'),
    "a non-ASCII key": lambda f: _resign_line(f, 3, lambda e: e.update({"é": 1})),
    "not an object": lambda f: _set_line(f, 4, b"[1]"),
    "nested too deeply": lambda f: _set_line(f, 4, b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"),
    "no type": lambda f: _resign_line(f, 4, lambda e: e.pop("type")),
    "cut short": lambda f: _edit_line(f, 4, b"}", b""),
    "an empty line": lambda f: _set_line(f, 6, b"\n" + _line(f, 6)),
    "the tail unterminated": lambda f: (f / "GOVERNANCE_LOG.ndjson").write_bytes(
        (f / "GOVERNANCE_LOG.ndjson").read_bytes() + b'{"seq":6'
    ),
    "a forged line after the checkpoint": lambda f: (f / "GOVERNANCE_LOG.ndjson").write_bytes(
        (f / "GOVERNANCE_LOG.ndjson").read_bytes() + b'{"seq":6,"ts":"x","type":"forged"}\n'
    ),
    "the last line gone": lambda f: (f / "GOVERNANCE_LOG.ndjson").write_bytes(
        b"".join(line + b"\n" for line in lines_of(Ledger.in_folder(f))[:-1])
    ),
    "the log key replaced": lambda f: _resign_line(
        f, 1, lambda e: e.update({"log_key": {"verifier_key": "a+b+c"}})
    ),
    "no checkpoint": lambda f: (f / "checkpoint").unlink(),
    "a checkpoint rolled back": lambda f: (f / "checkpoint").write_text(
        split_history((f / "checkpoint.history").read_text())[-2]
    ),
    "the history cut back": lambda f: _history(f, lambda notes: notes[:-1]),
    "history notes swapped": lambda f: _history(f, lambda n: [*n[:-2], n[-1], n[-2]]),
    "an unreadable note": lambda f: _history(f, lambda n: ["garbage\n", *n]),
    "no witness": lambda f: shutil.rmtree(f / "witness"),
    "the witness record gone": lambda f: shutil.rmtree(f / "witness" / "logs"),
    "a bad witness key": lambda f: (f / "witness" / "witness.vkey").write_text("nonsense\n"),
    "a witness refusal": _refused,
    "a witness record unsigned": _unsign_record,
    "a symlinked checkpoint": lambda f: _symlink(f / "checkpoint"),
    "two fragments": lambda f: [_edit_line(f, n, b"}", b"") for n in (4, 5)] and None,
    "the log gone": lambda f: (f / "GOVERNANCE_LOG.ndjson").unlink(),
    "a note's size": lambda f: _history(f, lambda n: [n[0].replace("\n", "\n0", 1), *n[1:]]),
    "a note's root": lambda f: _history(f, lambda n: [n[0].replace("=\n", "\n", 1), *n[1:]]),
    "a note unsigned": lambda f: _history(f, lambda n: [n[0].split("\n\n")[0] + "\n", *n[1:]]),
    "the witness key a folder": lambda f: _to_folder(f / "witness" / "witness.vkey"),
    "the witness key a symlink": lambda f: _symlink(f / "witness" / "witness.vkey"),
    "the witness keeps another log here": _resealed,
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_the_same_findings_as_sealguard(exported: Path, name: str) -> None:
    TAMPERINGS[name](exported)
    found = _problems(exported)
    assert (found == []) == (name == "intact")
    assert _standalone(exported) == found


def test_torn_tails_and_a_crash_between_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_log(tmp_path / "log", 3)
    cut_writes_to(20, monkeypatch)
    with pytest.raises(EvidenceWriteError):
        append(ledger, "doomed", {})
    monkeypatch.undo()
    assert _standalone(ledger.folder) == _problems(ledger.folder) == []  # announced, pending
    assert standalone.check(ledger.folder).pending_tail == 20
    append(ledger, "after", {"n": 1})  # records the fragment as a torn tail
    assert _standalone(ledger.folder) == _problems(ledger.folder) == []
    assert standalone.check(ledger.folder).torn_tails == [4]
    lines = lines_of(ledger)
    write_lines(ledger, [*lines[:3], lines[3][:-1] + b"X", *lines[4:]])
    assert _standalone(ledger.folder) == _problems(ledger.folder) != []
    write_lines(ledger, lines)
    # a crash between writing the history and the checkpoint file: the intent tells it
    ledger.checkpoint.write_text(split_history(ledger.history.read_text())[-2])
    assert _standalone(ledger.folder) == _problems(ledger.folder) == []
    ledger.pending.unlink()
    assert [p[0] for p in _standalone(ledger.folder)] == ["ROLLBACK"]
    assert _standalone(ledger.folder) == _problems(ledger.folder)


def test_the_report_and_exit_codes(exported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert standalone.main([str(exported)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("INTACT: 6 lines, tree root ") and "the latest covers 6 lines" in first
    _edit_line(exported, 3, b"note number 0", b"note number 9")
    assert standalone.main([str(exported)]) == 3
    out = capsys.readouterr().out
    assert out.startswith("INCIDENT: the governance log is not intact (INV-D-03): ")
    assert "  FORK: checkpoint.history #2: the log's first 3 lines have another root" in out
    assert standalone.main([str(exported / "nothing")]) == 64


# ----- the canonical form it checks is the one sealguard writes -------------------------------

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_scalar = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _text
_value = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(max_codepoint=127), max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(st.characters(max_codepoint=127), max_size=6), _value))
def test_its_canonical_form_is_rfc_8785_on_what_sealguard_writes(event: dict[str, object]) -> None:
    line = bytes(rfc8785.dumps(event))
    assert standalone.canonical_problem(line) is None
    assert standalone.canonical_problem(line + b" ") is not None


# ----- `log show --dir` -----------------------------------------------------------------------


def test_log_show_reads_an_exported_folder(exported: Path, invoke) -> None:
    result = invoke("log", "show", "--dir", str(exported), "--type", "note")
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 4 and "note number 3" in result.output
