"""The incident report: the facts sealguard holds, prefilled; the sections people write. Pure.

On an INCIDENT, the report (`templates/INCIDENT_REPORT.md.j2`) is prefilled with what the
governance log knows: the event, its commit, snapshot and export, the violated invariants, the
rules that decided the class, a timeline, the escalation record and the diff with the baseline.
The runbook's post-mortem is for people: impact, root cause with evidence, corrective and
preventive actions. Each of those holds only a placeholder comment until someone writes it, and
`missing_sections` names the ones still missing (the incident cannot close while any is).
"""

import re
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

from sealguard.markdown import Markdown, fenced, inline, render_template, table
from sealguard.observe.classify import rule_table

# (heading, what to write): the runbook's post-mortem, in the order the report shows it
HUMAN_SECTIONS: tuple[tuple[str, str], ...] = (
    (
        "Impact",
        "who and what was affected (users, data, releases), from when to when, "
        "and how that was established",
    ),
    (
        "Root cause (with evidence)",
        "why it happened, and the evidence that shows it: files, log sequence numbers, "
        "snapshot files, commits",
    ),
    (
        "Corrective actions",
        "what people did to correct the build or roll it back, by whom, "
        "and the decision that authorised it",
    ),
    (
        "Preventive actions",
        "what changes so that it cannot happen again, with an owner and a date for each",
    ),
)
REQUIRED_SECTIONS: tuple[str, ...] = tuple(name for name, _ in HUMAN_SECTIONS)
PLACEHOLDER = "<!-- to be written: {hint} -->"

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)  # an unclosed comment runs to the end
_NEWLINES = re.compile(r"\r\n?")  # as markdown-it normalises them, so line numbers agree
_PARSER = MarkdownIt("commonmark")


@dataclass(frozen=True)
class IncidentFacts:
    """What the log knows about an incident, prepared by the caller."""

    incident_id: str
    opened_at: str  # UTC, ISO 8601
    event: dict[str, Any]  # the INCIDENT runtime_event record, as the log holds it
    timeline: list[tuple[str, str]]  # (UTC time, one-line summary), oldest first
    escalations: list[str]  # one line each
    diff: str  # bounded; may be empty
    baseline_version: int


def render(facts: IncidentFacts) -> str:
    """The Markdown report: facts filled in, human sections holding only their placeholder."""
    event = facts.event
    return render_template(
        "INCIDENT_REPORT.md.j2",
        incident_id=inline(facts.incident_id),
        headline=_headline(event),
        summary=_summary(facts),
        invariants=_invariants(event),
        decision_path=_decision_path(event),
        timeline=_timeline(facts.timeline),
        escalations=[inline(line) for line in facts.escalations],
        diff=fenced(facts.diff, "diff") if facts.diff.strip() else None,
        human=[(name, PLACEHOLDER.format(hint=hint)) for name, hint in HUMAN_SECTIONS],
    )


def _text(value: object) -> str:
    return "none" if value is None or value == "" else str(value)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _headline(event: dict[str, Any]) -> Markdown:
    return inline(
        f"sealguard classified observation {_text(event.get('event_id'))} as "
        f"{_text(event.get('classification'))} at {_text(event.get('observed_at'))} (UTC), "
        f"on commit {_text(event.get('commit'))}."
    )


def _snapshot(snapshot: dict[str, Any] | None) -> str:
    if not snapshot:
        return "none"
    files = _count(len(snapshot.get("files") or {}), "file")
    return f"{_text(snapshot.get('snapshot_id'))} in {_text(snapshot.get('path'))} ({files})"


def _summary(facts: IncidentFacts) -> Markdown:
    event = facts.event
    rows = [
        ("incident", facts.incident_id),
        ("opened at (UTC)", facts.opened_at),
        ("event", _text(event.get("event_id"))),
        ("observed at (UTC)", _text(event.get("observed_at"))),
        ("classification", _text(event.get("classification"))),
        ("commit", _text(event.get("commit"))),
        ("baseline version", f"v{facts.baseline_version}"),
        ("baseline sha256", _text(event.get("baseline_sha256"))),
        ("snapshot", _snapshot(event.get("snapshot"))),
        ("export", _text(event.get("export"))),
    ]
    return table(("fact", "value"), rows)


def _invariants(event: dict[str, Any]) -> Markdown:
    rows = [
        (when, _text(v.get("invariant")), _text(v.get("change")), _text(v.get("path")),
         _text(v.get("detail")))
        for key, when in (("invariants_before", "before the probes ran"),
                          ("invariants_after", "while the probes ran"))
        for v in event.get(key) or []
    ]  # fmt: skip
    if not rows:
        return Markdown("No invariant violation was recorded with this event.")
    return table(("when", "invariant", "change", "path", "detail"), rows)


def _decision_path(event: dict[str, Any]) -> Markdown:
    steps = event.get("why") or []
    meanings = {rule: meaning for rule, _, meaning in rule_table()}
    matched = [step for step in steps if step.get("matched")]
    if not matched:
        return Markdown(f"No rule matched among the {_count(len(steps), 'rule')} tried.")
    rows = [
        (_text(s.get("rule")), _text(s.get("class")), _text(s.get("probe") or "(observation)"),
         meanings.get(str(s.get("rule")), ""), _text(s.get("detail")))
        for s in matched
    ]  # fmt: skip
    intro = Markdown(
        f"The observation tried {_count(len(steps), 'rule')} (first match wins for each probe; the "
        "observation takes the most severe class). These decided it:\n\n"
    )
    return Markdown(intro + table(("rule", "class", "probe", "meaning", "detail"), rows))


def _timeline(entries: list[tuple[str, str]]) -> Markdown:
    if not entries:
        return Markdown("No entry: the log holds nothing about this incident yet.")
    return table(("time (UTC)", "what"), entries)


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of each top-level `## ` section, as a Markdown reader finds them: a
    `## ` line inside a code block or a quote is not a heading."""
    source = _NEWLINES.sub("\n", text)
    tokens = _PARSER.parse(source)
    lines = source.split("\n")
    heads = [
        (tokens[index + 1].content, token.map)
        for index, token in enumerate(tokens)
        if token.type == "heading_open" and token.tag == "h2" and token.level == 0 and token.map
    ]
    found = []
    for number, (name, (_, body_start)) in enumerate(heads):
        end = heads[number + 1][1][0] if number + 1 < len(heads) else len(lines)
        found.append((name, "\n".join(lines[body_start:end])))
    return found


# what people type to mean "later": a section holding only one of these is not written
PLACEHOLDERS = frozenset(
    {"tbd", "tba", "todo", "to do", "later", "wip", "...", "…", "-", "?", "xxx"}
)


def _written(body: str) -> bool:
    text = _COMMENT.sub("", body).strip()
    return (
        bool(text)
        and text.strip(" .:*_`").casefold() not in PLACEHOLDERS
        and text not in ("...", "…")
    )


def missing_sections(text: str) -> list[str]:
    """The human sections that are absent, or hold nothing but whitespace, comments or a
    placeholder word (TBD, TODO, …)."""
    written = {_key(name) for name, body in _sections(text) if _written(body)}
    return [name for name in REQUIRED_SECTIONS if _key(name) not in written]
