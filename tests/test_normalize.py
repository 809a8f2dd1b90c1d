"""Normalisers: what they scrub, redact and sort, so an unchanged product gives one hash."""

import pytest

from sealguard.config import NormalizeRule
from sealguard.probes.normalize import build, describe

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


def test_custom_regex_and_sorted_lines() -> None:
    normalizer = build(
        [NormalizeRule(regex=r"id=\w+", replacement="id=<ID>"), "sort_lines"], "text", ROOT, []
    )
    assert list(normalizer.lines(["b id=7f\n", "a id=99\n"])) == ["a id=<ID>\n", "b id=<ID>\n"]
    assert normalizer.text("at 0x7f3a2b1c4d50") == "at 0x7f3a2b1c4d50"  # only what is declared


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
