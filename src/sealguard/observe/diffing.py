"""The diff with the baseline: the cause of the probe's class first, then per-test status
changes, then a bounded unified diff of the normalised outputs.

When the tooling failed (a TOOLING_DRIFT whose run failed or whose report could not be read),
what the run left is the tool's failure, not the product's output: the diff would only show
the baseline's output as removed. It is not computed; the text says which report is missing
and why, and what the console showed.

GNU diff compares the two files in a process of its own (difflib needs minutes and hundreds of
MiB on outputs of many short lines; diff needs a second), writing to a file of which only the
first DIFF_LINES lines are read back, each cut at LINE_BYTES: memory stays bounded whatever
the outputs' shape.
"""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from sealguard.events import ProbeRecord, StatusChange
from sealguard.names import terminal_safe
from sealguard.proc import StreamedRun, run_to_files

DIFF_LINES = 400  # lines of unified diff kept inline; the full outputs stay in the snapshot
DIFF_MAX_BYTES = 8 << 20  # larger outputs are not diffed (diff holds both files in memory)
LINE_BYTES = 4096  # of each diff line kept; a longer one is cut
DIFF_TIMEOUT = 120.0


def status_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[StatusChange]:
    names = sorted(before.keys() | after.keys())
    return [
        StatusChange(test=n, before=before.get(n), after=after.get(n))
        for n in names
        if before.get(n) != after.get(n)
    ]


def _head(path: Path, limit: int) -> tuple[list[str], int]:
    """The first `limit` lines of a file, each cut at LINE_BYTES, and how many lines follow."""
    kept: list[str] = []
    more = 0
    at_start = True
    with path.open("rb") as stream:
        while piece := stream.readline(LINE_BYTES):
            if at_start and len(kept) < limit:
                text = piece.rstrip(b"\n").decode("utf-8", "replace")
                cut = not piece.endswith(b"\n") and len(piece) == LINE_BYTES
                kept.append(f"{text} [line cut at {LINE_BYTES} bytes]" if cut else text)
            elif at_start:
                more += 1
            at_start = piece.endswith(b"\n")
    return kept, more


def _failure(done: StreamedRun) -> str:
    if done.not_started:
        return f"diff could not run: {done.not_started}"
    return "diff timed out" if done.timed_out else f"diff failed (exit {done.exit_code})"


def unified(
    before: Path, after: Path, names: tuple[str, str], work: Path, limit: int = DIFF_LINES
) -> list[str]:
    """At most `limit` lines of `diff -u` (a missing file counts as empty), and a line saying
    how many were left out. `work` holds diff's output while it is read."""
    outputs = (work / ".diff.out", work / ".diff.err")
    argv = ["diff", "-u", "-N", "-L", names[0], "-L", names[1], str(before), str(after)]
    try:
        done = run_to_files(argv, work, os.environ, outputs, timeout=DIFF_TIMEOUT, settle=0)
        if done.exit_code not in (0, 1):
            return [
                f"({_failure(done)}; compare the files in the snapshot with governance/baseline/)"
            ]
        lines, more = _head(outputs[0], limit)
    finally:
        for path in outputs:
            path.unlink(missing_ok=True)
    if more:
        lines.append(f"... {more} more diff lines left out; compare the files in the snapshot")
    return lines


class Cause(Protocol):
    """The rule that decided a probe's class (as classification found it, or an event holds it)."""

    @property
    def rule(self) -> str: ...

    @property
    def klass(self) -> str: ...

    @property
    def detail(self) -> str: ...


def cause_line(cause: Cause | None) -> str:
    if cause is None:
        return "cause: no rule recorded for this probe"
    return f"cause: {cause.rule} {cause.klass}: {terminal_safe(cause.detail)}"


def tooling_failed(probe: ProbeRecord, cause: Cause | None) -> bool:
    """The tooling failed: comparing what the run left with the baseline's output says nothing."""
    return (
        cause is not None
        and cause.klass == "TOOLING_DRIFT"
        and (probe.verdict == "FAIL" or probe.report_state not in ("ok", "none"))
    )


def not_compared(probe: ProbeRecord) -> list[str]:
    """What stands in for the output diff when the tooling failed: which report, and why."""
    lines = ["(not compared: the tooling failed, so the run left the tool's failure, not the "
             "product's output)"]  # fmt: skip
    if probe.report_state not in ("ok", "none"):
        problem = terminal_safe(probe.report_problem)
        lines.append(f"the {probe.kind} report is {probe.report_state}: {problem}")
    if probe.verdict == "FAIL":
        lines.append(f"the run: exit {probe.exit_code}, expected {probe.expect_exit}")
    if probe.console is not None:
        c = probe.console
        lines.append(
            f"the console: {c['passed']} passed, {c['failed']} failed, {c['errors']} errors"
        )
    lines.append(
        f"what it printed: {probe.name}/stdout.txt and {probe.name}/stderr.txt in the snapshot; "
        f"the baseline's output: governance/baseline/{probe.name}/output.normalized"
    )
    return lines


OUTPUT_HEADING = "## normalised output (unified diff)"


def render(
    probe: str,
    changes: list[StatusChange],
    diff: list[str],
    lead: Sequence[str] = (),
    heading: str = OUTPUT_HEADING,
) -> str:
    out = [f"# probe {probe}: differences from the baseline", ""]
    if lead:
        out += [*lead, ""]
    if changes:
        out.append(f"## test status changes ({len(changes)})")
        out += [  # a test's name on one line: the file is read line by line
            f"{terminal_safe(c.test)}: {c.before or '(absent)'} -> {c.after or '(absent)'}"
            for c in changes
        ]
        out.append("")
    out.append(heading)
    out += diff or ["(identical)"]
    return "\n".join(out) + "\n"


def explain(probe: ProbeRecord, cause: Cause | None, diff: list[str]) -> str:
    """An observed probe's diff, led by the cause of its class; when the tooling failed, which
    report is missing and why instead of the output diff."""
    lead = [cause_line(cause)]
    if tooling_failed(probe, cause):
        return render(probe.name, probe.status_changes, not_compared(probe), lead, "## output")
    return render(probe.name, probe.status_changes, diff, lead)
