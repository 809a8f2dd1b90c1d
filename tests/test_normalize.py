"""Normalisers: what they scrub, redact and sort, so an unchanged product gives one hash."""

import hashlib
import io
import json
from pathlib import Path

import pytest

from sealguard.config import NormalizeRule
from sealguard.probes.normalize import Normalizer, build, describe
from sealguard.probes.normalized import write_document, write_text

ROOT = "/srv/product"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("\x1b[32m✓\x1b[39m passed", "✓ passed"),
        ("rootdir: /srv/product/tests", "rootdir: <ROOT>/tests"),
        ("wrote /tmp/sealguard-observe-x1y2/unit/report.xml", "wrote <TMP>"),
        ("started 2026-11-26T18:00:01.123Z", "started <TIMESTAMP>"),
        ("Start at  18:50:01", "Start at  <TIMESTAMP>"),
        ("2 passed in 0.04s", "2 passed in <DURATION>"),
        ("Duration 412ms (transform 18ms)", "Duration <DURATION> (transform <DURATION>)"),
        ("<object at 0x7f3a2b1c4d50>", "<object at 0x<ADDR>>"),
        ("Using --randomly-seed=1234567", "Using --randomly-seed=<SEED>"),
        ("random seed: 42", "random seed: <SEED>"),
        ("version 3.2.4 and 12 tests", "version 3.2.4 and 12 tests"),
    ],
)
def test_default_scrubbers(line: str, expected: str) -> None:
    assert build(None, "text", ROOT, ["/tmp/sealguard-observe-x1y2"]).text(line) == expected


def _normalized(tmp_path: Path, normalizer: Normalizer, text: str, **options: int) -> str:
    """The normalised output file of a probe that printed `text` (written by the real writer)."""
    source, target = tmp_path / "stdout.txt", tmp_path / "output.normalized"
    source.write_bytes(text.encode())
    digest = write_text(normalizer, source, target, **options)
    assert digest == hashlib.sha256(target.read_bytes()).hexdigest()
    assert not list(tmp_path.glob(".*sort*"))  # the sort's spill files are gone
    return target.read_bytes().decode()


def test_custom_regex_and_sorted_lines(tmp_path: Path) -> None:
    normalizer = build(
        [NormalizeRule(regex=r"id=\w+", replacement="id=<ID>"), "sort_lines"], "text", ROOT, []
    )
    assert _normalized(tmp_path, normalizer, "b id=7f\na id=99\n") == "a id=<ID>\nb id=<ID>\n"
    assert normalizer.text("at 0x7f3a2b1c4d50") == "at 0x7f3a2b1c4d50"  # only what is declared


def test_sorting_spills_runs_to_files_and_gives_what_a_sort_in_memory_gives(tmp_path: Path) -> None:
    lines = [f"line {(i * 7919) % 1000:04d} id=z{i}\n" for i in range(1000)]
    lines += ["", "cr only\r", "crlf\r\n", "\n", "last without newline"]
    normalizer = build(
        [NormalizeRule(regex=r"id=\w+", replacement="id=<ID>"), "sort_lines"], "text", ROOT, []
    )
    expected = "".join(sorted(normalizer.text(line) for line in lines if line))
    assert _normalized(tmp_path, normalizer, "".join(lines), run_chars=500) == expected


def test_a_line_over_the_limit_is_kept_as_printed_in_pieces() -> None:
    normalizer = build(None, "text", ROOT, [])
    long = "at 0x7f3a2b1c4d50 " * 4  # 72 characters
    text = f"took 3ms\n{long}\n@0x7f3a2b1c\n{'x' * 16}\n{'y' * 16}"
    pieces = list(normalizer.pieces(io.StringIO(text, newline=""), limit=16))
    assert pieces[0] == ("took <DURATION>\n", True)
    assert "".join(p for p, whole in pieces[1:6]) == long + "\n"
    assert not any(whole for _, whole in pieces[1:6]) and all(len(p) <= 16 for p, _ in pieces)
    assert pieces[6] == ("@0x<ADDR>\n", True)  # scrubbed again after the long line
    assert pieces[7:] == [("x" * 16, False), ("\n", False), ("y" * 16, False)]  # the limit is long


def test_with_sort_lines_long_lines_follow_the_sorted_ones_as_printed(tmp_path: Path) -> None:
    normalizer = build(["sort_lines", "durations"], "text", ROOT, [])
    text = f"b 1s\n{'z' * 40}\na 2s\n{'y' * 40}\n"
    out = _normalized(tmp_path, normalizer, text, line_limit=16, run_chars=4)
    assert out == f"a <DURATION>\nb <DURATION>\n{'z' * 40}\n{'y' * 40}\n"


def test_the_report_is_written_as_the_canonical_json_it_always_was(tmp_path: Path) -> None:
    document = {"b": [{"name": "z", "time": "1"}, {"name": "a", "t": "é"}], "a": f"{ROOT}/x"}
    normalizer = build(None, "junit-xml", ROOT, [])
    expected = (
        json.dumps(
            normalizer.document(json.loads(json.dumps(document))),
            sort_keys=True,
            indent=1,
            ensure_ascii=False,
        )
        + "\n"
    )
    digest = write_document(normalizer, document, tmp_path / "out.json")
    assert (tmp_path / "out.json").read_text(encoding="utf-8") == expected
    assert digest == hashlib.sha256(expected.encode()).hexdigest()


def test_vitest_document_redacted_and_sorted() -> None:
    document = {
        "startTime": 1, "success": True,
        "testResults": [
            {"name": f"{ROOT}/b.test.js", "endTime": 9, "assertionResults": [{"fullName": "z", "duration": 3}, {"fullName": "a", "duration": 1}]},
            {"name": f"{ROOT}/a.test.js", "endTime": 8, "assertionResults": []},
        ],
    }  # fmt: skip
    out = build(None, "vitest-json", ROOT, []).document(document)
    assert out["startTime"] == "<REDACTED>"
    assert [t["name"] for t in out["testResults"]] == ["<ROOT>/a.test.js", "<ROOT>/b.test.js"]
    assert [a["fullName"] for a in out["testResults"][1]["assertionResults"]] == ["a", "z"]
    assert out["testResults"][1]["assertionResults"][0]["duration"] == "<REDACTED>"
    assert out["testResults"][0]["endTime"] == "<REDACTED>"


def test_exact_redaction_paths() -> None:
    normalizer = build([NormalizeRule(redact="meta.build[].id")], "json", ROOT, [])
    out = normalizer.document({"meta": {"build": [{"id": 1, "k": 2}], "id": 3}})
    assert out == {"meta": {"build": [{"id": "<REDACTED>", "k": 2}], "id": 3}}


def test_describe_is_what_gets_sealed() -> None:
    assert describe(None, "junit-xml")[-1] == "sort_tests"
    assert {"redact": "**.hostname"} in describe(None, "junit-xml")
    assert describe([NormalizeRule(regex="x")], "text") == [
        {"regex": "x", "replacement": "<REDACTED>"}
    ]


def test_a_long_string_in_a_report_is_kept_as_written(tmp_path: Path) -> None:
    long = f"{ROOT}/" + "a" * (2 << 20)
    document = {"b": long, "a": f"{ROOT}/x"}
    digest = write_document(build(None, "json", ROOT, []), document, tmp_path / "out.json")
    expected = json.dumps({"a": "<ROOT>/x", "b": long}, sort_keys=True, indent=1) + "\n"
    assert (tmp_path / "out.json").read_text() == expected
    assert digest == hashlib.sha256(expected.encode()).hexdigest()


def test_a_key_holding_the_root_is_scrubbed() -> None:
    out = build(None, "json", ROOT, []).document({f"{ROOT}/a": {"t": "1ms"}, "b": [f"{ROOT}"]})
    assert out == {"<ROOT>/a": {"t": "<DURATION>"}, "b": ["<ROOT>"]}
