"""BASELINE_REF.sha256: sha256sum reads it, and it reads back exactly as written."""

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealguard.errors import DataError
from sealguard.seal.manifest import Entry, Manifest, parse_manifest, render_manifest

NAME_CHARS = st.characters(
    blacklist_categories=["Cs"], blacklist_characters="/\0"
) | st.sampled_from(["\n", "\r", "\\", " ", "#", "*", "\udcff"])
names = st.text(NAME_CHARS, min_size=1, max_size=12).filter(lambda n: n not in (".", ".."))
paths = st.lists(names, min_size=1, max_size=3).map("/".join)
hexes = st.binary(min_size=32, max_size=32).map(bytes.hex)
file_entries = st.builds(Entry, paths, st.just("file"), hexes, st.integers(0, 0o7777))
link_entries = st.builds(
    lambda p, t: Entry(p, "symlink", target=t), paths, st.text(NAME_CHARS, min_size=1, max_size=20)
)


@given(st.lists(file_entries | link_entries, max_size=20, unique_by=lambda e: e.path))
def test_round_trip(entries: list[Entry]) -> None:
    manifest = Manifest(("src/**",), ("**/x/**",), tuple(entries))
    again = parse_manifest(render_manifest(manifest), "m")
    assert again.paths == manifest.paths and again.exclude == manifest.exclude
    assert sorted(again.entries, key=lambda e: e.path) == sorted(entries, key=lambda e: e.path)


def test_sha256sum_checks_the_file_lines_including_awkward_names(tmp_path: Path) -> None:
    names = [
        "plain.txt",
        "with space.txt",
        "back\\slash",
        "new\nline",
        "car\rriage",
        "#hash",
        "é.txt",
    ]
    entries = []
    for name in names:
        data = name.encode() * 3
        (tmp_path / name).write_bytes(data)
        entries.append(Entry(name, "file", hashlib.sha256(data).hexdigest(), 0o644))
    entries.append(Entry("link", "symlink", target="plain.txt"))
    (tmp_path / "BASELINE_REF.sha256").write_bytes(
        render_manifest(Manifest(("**",), (), tuple(entries)))
    )
    done = subprocess.run(
        ["sha256sum", "-c", "--strict", "BASELINE_REF.sha256"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(b": OK") == len(names)
    (tmp_path / "new\nline").write_bytes(b"changed")
    done = subprocess.run(
        ["sha256sum", "-c", "--quiet", "BASELINE_REF.sha256"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 1
    assert b"FAILED" in done.stdout


def test_mode_lines_only_where_the_mode_changes() -> None:
    entries = (
        Entry("a", "file", "0" * 64, 0o644),
        Entry("b", "file", "1" * 64, 0o644),
        Entry("c", "file", "2" * 64, 0o755),
    )
    text = render_manifest(Manifest(("**",), (), entries)).decode()
    assert text.count("# mode 0644") == 1 and text.count("# mode 0755") == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a manifest\n", "m:1: not a sealguard baseline"),
        (
            "# sealguard-baseline 1\n# paths []\n# exclude []\n# mode 0644\nabc  x\n",
            "m:5: not a '<sha256>  <path>' line",
        ),
        (
            "# sealguard-baseline 1\n# paths []\n# exclude []\n" + "a" * 64 + "  x\n",
            "m:4: a file line before any '# mode' line",
        ),
        ("# sealguard-baseline 1\n# paths []\n# exclude []", "m:3: the last line has no newline"),
        ("# sealguard-baseline 1\n# paths [\n# exclude []\n", "m:2: unreadable '# paths' line"),
        (
            "# sealguard-baseline 1\n# exclude []\n",
            "m:1: the '# paths' or '# exclude' line is missing",
        ),
        (
            '# sealguard-baseline 1\n# paths []\n# exclude []\n# symlink "a" => "b"\n',
            "m:4: unreadable '# symlink' line",
        ),
        (
            "# sealguard-baseline 1\n# paths []\n# exclude []\n# mode 0644\n\\"
            + "a" * 64
            + "  x\\q\n",
            "m:5: bad escape",
        ),
    ],
)
def test_bad_manifest_names_the_line(text: str, message: str) -> None:
    with pytest.raises(DataError) as caught:
        parse_manifest(text.encode(), "m")
    assert caught.value.message.startswith(message)


def test_non_utf8_names_survive(tmp_path: Path) -> None:
    raw = b"caf\xe9.txt"
    name = os.fsdecode(raw)
    entry = Entry(name, "file", "a" * 64, 0o600)
    data = render_manifest(Manifest(("**",), (), (entry,)))
    assert b"  caf\xe9.txt\n" in data
    assert parse_manifest(data, "m").entries == (entry,)


def _line_by_line(data: bytes, name: str) -> Manifest:
    """The reading before runs of plain lines were read at once: each line on its own."""
    from sealguard.seal.manifest import MAGIC, _Parser

    parser = _Parser(name)
    text = data.decode("utf-8", "surrogateescape")
    assert text.startswith(MAGIC + "\n") and text.endswith("\n")
    for number, line in enumerate(text[:-1].split("\n"), start=1):
        if line.startswith("# "):
            parser.comment(number, line)
        elif line:
            parser.file_line(number, line)
    if parser.paths is None or parser.exclude is None:
        raise parser.fail(1, "the '# paths' or '# exclude' line is missing")
    return Manifest(tuple(parser.paths), tuple(parser.exclude), tuple(parser.entries))


LINE_NAMES = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\n"), max_size=6
)
manifest_lines = st.one_of(
    st.builds("{}  {}".format, hexes, LINE_NAMES),  # plain (an empty name is not a line)
    st.builds("\\{}  {}".format, hexes, st.sampled_from(["a\\nb", "c\\\\d", "bad\\q", "e"])),
    st.sampled_from(["# mode 0644", "# mode 0755", "# mode 9", '# symlink "l" -> "t"', ""]),
    st.sampled_from(["abc  x", "#no-space", "A" * 64 + "  x", "a" * 64 + " x", "a" * 64 + "  "]),
)


@given(st.lists(manifest_lines, max_size=30), st.booleans())
def test_runs_of_plain_lines_read_as_each_line_alone(lines: list[str], mode_first: bool) -> None:
    head = ["# sealguard-baseline 1", "# paths []", "# exclude []"]
    head += ["# mode 0600"] if mode_first else []
    data = ("\n".join(head + lines) + "\n").encode("utf-8", "surrogateescape")
    try:
        expected: Manifest | str = _line_by_line(data, "m")
    except DataError as exc:
        expected = exc.message
    try:
        found: Manifest | str = parse_manifest(data, "m")
    except DataError as exc:
        found = exc.message
    assert found == expected
