"""The diff with the baseline: per-test status changes first, then a bounded unified diff of the
normalised outputs. Pure."""

import difflib
from collections.abc import Mapping, Sequence

from sealguard.events import StatusChange
from sealguard.names import terminal_safe

DIFF_LINES = 400  # lines of unified diff kept inline; the full outputs stay in the snapshot
DIFF_MAX_BYTES = 8 << 20  # larger outputs are not diffed in memory


def status_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[StatusChange]:
    names = sorted(before.keys() | after.keys())
    return [
        StatusChange(test=n, before=before.get(n), after=after.get(n))
        for n in names
        if before.get(n) != after.get(n)
    ]


def unified(
    before: Sequence[str], after: Sequence[str], names: tuple[str, str], limit: int = DIFF_LINES
) -> list[str]:
    """At most `limit` lines of unified diff, and a line saying how many were left out."""
    lines = list(difflib.unified_diff(before, after, *names, lineterm=""))
    if len(lines) > limit:
        return [
            *lines[:limit],
            f"... {len(lines) - limit} more diff lines left out; compare the files in the snapshot",
        ]
    return lines


def render(probe: str, changes: list[StatusChange], diff: list[str]) -> str:
    out = [f"# probe {probe}: differences from the baseline", ""]
    if changes:
        out.append(f"## test status changes ({len(changes)})")
        out += [  # a test's name on one line: the file is read line by line
            f"{terminal_safe(c.test)}: {c.before or '(absent)'} -> {c.after or '(absent)'}"
            for c in changes
        ]
        out.append("")
    out.append("## normalised output (unified diff)")
    out += diff or ["(identical)"]
    return "\n".join(out) + "\n"
