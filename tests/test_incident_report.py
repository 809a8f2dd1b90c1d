"""The incident report: facts prefilled from the log, the human sections left to people."""

import re
from typing import Any

import pytest
from markdown_it import MarkdownIt

from sealguard.decide.incident_report import (
    REQUIRED_SECTIONS,
    IncidentFacts,
    missing_sections,
    render,
)


def incident_event(**changes: Any) -> dict[str, Any]:
    """An INCIDENT runtime_event record as the governance log holds it."""
    record: dict[str, Any] = {
        "seq": 7,
        "ts": "2026-02-04T02:15:46Z",
        "type": "runtime_event",
        "event_id": "RTE_20260204_021546_ce8d87d7",
        "observed_at": "2026-02-04T02:15:46Z",
        "commit": "2e3f8d2d",
        "classification": "INCIDENT",
        "why": [
            {
                "rule": "INC-01",
                "class": "INCIDENT",
                "matched": True,
                "detail": "INV-D-02: changed src/fuel.py (content differs)",
                "probe": None,
            },
            {
                "rule": "INC-02",
                "class": "INCIDENT",
                "matched": False,
                "detail": "",
                "probe": None,
            },
            {
                "rule": "PD-07",
                "class": "PRODUCT_DRIFT",
                "matched": True,
                "detail": "output sha256 0a1b… -> 9f8e…",
                "probe": "unit",
            },
        ],
        "invariants_before": [
            {
                "invariant": "INV-D-02",
                "change": "changed",
                "path": "src/fuel.py",
                "detail": "content differs",
            }
        ],
        "invariants_after": [
            {
                "invariant": "INV-D-04",
                "change": "added",
                "path": "governance/runtime/stray.txt",
                "detail": "not written by sealguard",
            }
        ],
        "snapshot": {
            "snapshot_id": "SNP_20260204_021546_0badf00d",
            "path": "governance/runtime/snapshots/SNP_20260204_021546_0badf00d",
            "files": {"unit/stdout.txt": "ab" * 32, "unit/diff.txt": "cd" * 32},
        },
        "export": "governance/runtime/exports/EXP_20260204_021546_11223344.tar.gz",
        "baseline_sha256": "e3" * 32,
    }
    record.update(changes)
    return record


def make_facts(**changes: Any) -> IncidentFacts:
    fields: dict[str, Any] = {
        "incident_id": "INC_20260204_021547_aabbccdd",
        "opened_at": "2026-02-04T02:15:47Z",
        "event": incident_event(),
        "timeline": [
            ("2026-02-01T09:00:00Z", "baseline sealed (v1)"),
            ("2026-02-04T02:15:46Z", "INCIDENT observed: RTE_20260204_021546_ce8d87d7"),
        ],
        "escalations": [
            "ESC_20260204_021546_99887766 via pagerduty: delivered at 2026-02-04T02:15:48Z",
            "ESC_20260204_021546_99887766 via slack: failed (HTTP 500), retried",
        ],
        "diff": "--- baseline\n+++ observed\n-reserve 5%\n+reserve 3%\n",
        "baseline_version": 1,
    }
    fields.update(changes)
    return IncidentFacts(**fields)


def sections(text: str) -> dict[str, str]:
    """`## ` heading -> its body, as a reader of the rendered Markdown sees them."""
    tokens = MarkdownIt("commonmark").parse(text)
    lines = text.splitlines()
    heads = [
        (tokens[i + 1].content, t.map[1] if t.map else 0, t.map[0] if t.map else 0)
        for i, t in enumerate(tokens)
        if t.type == "heading_open" and t.tag == "h2" and t.level == 0
    ]
    found = {}
    for number, (name, body_start, _) in enumerate(heads):
        end = heads[number + 1][2] if number + 1 < len(heads) else len(lines)
        found[name] = "\n".join(lines[body_start:end])
    return found


def fill(text: str, section: str, words: str) -> str:
    """`text` with the placeholder of `section` replaced by `words`, as a person would."""
    pattern = re.compile(rf"(^## {re.escape(section)}\n)<!-- to be written:[^\n]*-->", re.M)
    filled, count = pattern.subn(lambda m: m[1] + words, text)
    assert count == 1
    return filled


def test_a_fresh_report_holds_the_facts() -> None:
    text = render(make_facts())

    assert text.startswith("# Incident report INC_20260204_021547_aabbccdd\n")
    for fact in (
        "RTE_20260204_021546_ce8d87d7",
        "2e3f8d2d",
        "2026-02-04T02:15:46Z",
        "2026-02-04T02:15:47Z",
        "SNP_20260204_021546_0badf00d",
        "governance/runtime/snapshots/SNP_20260204_021546_0badf00d",
        "governance/runtime/exports/EXP_20260204_021546_11223344.tar.gz",
        "e3" * 32,
        "v1",
        "baseline sealed (v1)",
        "ESC_20260204_021546_99887766 via slack: failed (HTTP 500), retried",
    ):
        assert fact in text, fact
    found = sections(text)
    assert (
        "| INV-D-02 | changed | src/fuel.py | content differs |" in (found["Violated invariants"])
    )
    assert "governance/runtime/stray.txt" in found["Violated invariants"]
    path = found["Decision path"]
    assert "INC-01" in path and "PD-07" in path and "unit" in path
    assert "INC-02" not in path  # only the rules that matched decided the class
    assert "+reserve 3%" in found["Diff with the baseline"]
    assert "2026-02-01T09:00:00Z" in found["Timeline"]
    assert "via pagerduty: delivered" in found["Escalation record"]


def test_a_fresh_report_misses_every_human_section() -> None:
    text = render(make_facts())

    assert missing_sections(text) == list(REQUIRED_SECTIONS)
    assert REQUIRED_SECTIONS == (
        "Impact",
        "Root cause (with evidence)",
        "Corrective actions",
        "Preventive actions",
    )
    for name in REQUIRED_SECTIONS:
        body = sections(text)[name].strip()
        assert re.fullmatch(r"<!-- to be written: [^\n]+ -->", body), body


@pytest.mark.parametrize("section", REQUIRED_SECTIONS)
def test_filling_a_section_removes_it_from_the_missing(section: str) -> None:
    text = fill(render(make_facts()), section, "Fuel reserves were 2 points low for 3 hours.")

    assert missing_sections(text) == [s for s in REQUIRED_SECTIONS if s != section]


def test_a_report_with_every_section_written_misses_none() -> None:
    text = render(make_facts())
    for section in REQUIRED_SECTIONS:
        text = fill(text, section, f"Written: {section}.\n\n- with evidence: seq 7")

    assert missing_sections(text) == []


def test_a_deleted_heading_counts_as_missing() -> None:
    text = render(make_facts())
    for section in REQUIRED_SECTIONS:
        text = fill(text, section, "written")

    without = text.replace("## Corrective actions\n", "")

    assert missing_sections(without) == ["Corrective actions"]


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   \n\t\n",
        "<!-- I will write this later -->",
        "<!-- a comment\nover two lines -->\n\n<!-- and another -->",
    ],
)
def test_a_section_with_only_comments_or_whitespace_is_missing(body: str) -> None:
    text = render(make_facts())
    for section in REQUIRED_SECTIONS:
        text = fill(text, section, body if section == "Impact" else "written")

    assert missing_sections(text) == ["Impact"]


def test_a_comment_never_closed_hides_every_section_after_it() -> None:
    """A reader's Markdown hides everything after `<!--` with no `-->`: so does the check."""
    text = render(make_facts())
    for section in REQUIRED_SECTIONS:
        text = fill(text, section, "written")
    text = text.replace(
        "## Root cause (with evidence)\n", "## Root cause (with evidence)\n<!-- oops\n"
    )

    assert missing_sections(text) == list(REQUIRED_SECTIONS[1:])


def test_text_beside_a_comment_counts_as_written() -> None:
    text = render(make_facts())
    for section in REQUIRED_SECTIONS:
        text = fill(text, section, "<!-- to be written: x -->\nNo user was affected.")

    assert missing_sections(text) == []


def test_a_heading_inside_a_code_block_or_a_quote_is_not_a_section() -> None:
    text = render(make_facts())
    for section in REQUIRED_SECTIONS:
        if section != "Impact":
            text = fill(text, section, "written")
    # a person pastes an example; it must not count as the Impact section being written
    text += "\n```\n## Impact\nnothing\n```\n\n> ## Impact\n> quoted\n"

    assert missing_sections(text) == ["Impact"]


def test_headings_match_whatever_their_case_and_spacing() -> None:
    text = render(make_facts())
    for section in REQUIRED_SECTIONS:
        text = fill(text, section, "written")
    text = text.replace("## Root cause (with evidence)", "##   root CAUSE  (with evidence) ##")

    assert missing_sections(text) == []


def test_a_diff_holding_a_fence_stays_inside_its_block() -> None:
    diff = "-```\n+````python\n+## Impact\n+all good\n+````\n"
    text = render(make_facts(diff=diff))

    body = sections(text)["Diff with the baseline"]
    tokens = MarkdownIt("commonmark").parse(body)
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 1 and fences[0].content == diff
    assert missing_sections(text) == list(REQUIRED_SECTIONS)  # the diff wrote no section


def test_an_empty_diff_is_said_plainly() -> None:
    body = sections(render(make_facts(diff="")))["Diff with the baseline"]

    assert "```" not in body
    assert "no diff" in body


def test_table_cells_keep_their_rows_whatever_the_data() -> None:
    event = incident_event(
        invariants_before=[
            {
                "invariant": "INV-D-02",
                "change": "added",
                "path": "src/a|b.py",
                "detail": "line one\nline two\n## Impact\nforged",
            }
        ],
        invariants_after=[],
    )
    text = render(make_facts(event=event))

    table = sections(text)["Violated invariants"]
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert len(rows) == 3  # header, rule, one violation
    assert r"src/a\|b.py" in rows[2]
    assert "line one<br>line two<br>## Impact<br>forged" in rows[2]
    assert missing_sections(text) == list(REQUIRED_SECTIONS)


def test_one_line_facts_cannot_forge_a_heading() -> None:
    text = render(
        make_facts(
            timeline=[("2026-02-04T02:15:46Z", "ok\n## Impact\nforged")],
            escalations=["ESC_1 via email\n## Root cause (with evidence)\nforged"],
        )
    )

    assert missing_sections(text) == list(REQUIRED_SECTIONS)
    assert "\n## Impact\nforged" not in text


def test_a_fact_opening_a_comment_hides_no_section() -> None:
    event = incident_event(event_id="<!--", commit="<!--")
    text = render(make_facts(event=event, escalations=["<!-- x"], timeline=[("<!--", "y")]))
    for section in REQUIRED_SECTIONS:
        text = fill(text, section, "written")

    assert missing_sections(text) == []


def test_control_characters_in_facts_are_shown_escaped() -> None:
    event = incident_event(commit="2e3f\x1b]0;pwned\x07")
    text = render(make_facts(event=event, diff="-a\x1b[31m\n+b\n"))

    assert "\x1b" not in text and "\x07" not in text
    assert "2e3f\\x1B]0;pwned\\x07" in text


def test_an_event_without_snapshot_commit_or_export_says_none() -> None:
    event = incident_event(snapshot=None, export=None, commit=None, invariants_after=[])
    text = render(make_facts(event=event, timeline=[], escalations=[]))

    facts = sections(text)["What happened"]
    assert "| snapshot | none |" in facts
    assert "| export | none |" in facts
    assert "| commit | none |" in facts
    assert "No escalation was recorded" in sections(text)["Escalation record"]
    assert "no entry" in sections(text)["Timeline"].lower()


def test_an_event_without_violations_or_matched_rules_says_so() -> None:
    steps = [{"rule": "INC-01", "class": "INCIDENT", "matched": False, "detail": "", "probe": None}]
    event = incident_event(invariants_before=[], invariants_after=[], why=steps)
    found = sections(render(make_facts(event=event)))

    assert found["Violated invariants"].strip() == (
        "No invariant violation was recorded with this event."
    )
    assert found["Decision path"].strip() == "No rule matched among the 1 rule tried."


def test_a_diff_without_a_last_newline_still_closes_its_block() -> None:
    body = sections(render(make_facts(diff="-a\n+b")))["Diff with the baseline"]

    assert body.strip() == "```diff\n-a\n+b\n```"


@pytest.mark.parametrize("placeholder", ["TBD", "todo", "  TBD.  ", "...", "-", "**TBD**"])
def test_a_placeholder_word_is_not_a_written_section(placeholder: str) -> None:
    text = "## Impact\n\n" + placeholder + "\n\n## Root cause (with evidence)\n\nA typo.\n"
    missing = missing_sections(text)
    assert "Impact" in missing and "Root cause (with evidence)" not in missing
