"""The fleet's status as people read it (a table), as scripts read it (JSON), and the auditor's
page (one self-contained HTML file). Pure: a `FleetStatus` or `FleetReport` in, text out.

Every name and reason shown comes from hosts and the database, not from sealguard: the table
and `output.write` escape what a terminal would act on, and the page is rendered with
autoescaping, as the single report's is.
"""

import unicodedata
from datetime import datetime
from typing import Any

from sealguard.durations import duration_text
from sealguard.fleet.status import FleetReport, FleetStatus, LogStatus, Silence
from sealguard.fleet.summary import KEPT
from sealguard.names import terminal_safe


def stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _last_observation(row: LogStatus) -> str:
    last = row.told("last_observation")
    if not last:
        return "-"
    return f"{last.get('event_id')} {last.get('classification')} {last.get('observed_at')}"


def _flags(row: LogStatus) -> str:
    flags = ["INCIDENT: REFUSED"] if row.incident else []
    if row.retired is not None:
        flags.append("RETIRED")
    if row.head_problem is not None:
        flags.append("HEAD UNREADABLE")
    if row.silent is not None:
        flags.append(f"SILENT {duration_text(row.silent.seconds)}")
    return ", ".join(flags)


def _cells(row: LogStatus) -> list[str]:
    version = row.told("baseline_version")
    return [
        row.project,
        row.host,
        row.state or "-",
        str(row.told("since") or "-"),
        _last_observation(row),
        f"v{version}" if version is not None else "-",
        f"open {row.open_escalations}, overdue {row.overdue_escalations}",
        f"{row.lines:,}",
        _flags(row),
    ]


COLUMNS = ("project", "host", "state", "since", "last observation", "baseline", "escalations",
           "lines", "flags")  # fmt: skip


def _width(cell: str) -> int:
    """Terminal columns: two for a wide East Asian character, none for a combining one."""
    if cell.isascii():
        return len(cell)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in cell
    )


def _table(status: FleetStatus) -> str:
    """Aligned columns under a rule, as rich's Table draws them with box.SIMPLE_HEAD, drawn
    here: rich measures and wraps every cell, one to five seconds for 1,000 rows, and `fleet
    status` answers in under one. A cell is made terminal-safe before it is measured, so that
    the escapes `output.write` would add do not shift the columns."""
    rows = [[c.upper() for c in COLUMNS]]
    rows += [[terminal_safe(cell) for cell in _cells(row)] for row in status.rows]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(COLUMNS))]
    right = COLUMNS.index("lines")

    def line(cells: list[str]) -> str:
        padded = (
            " " * (w - _width(c)) + c if i == right else c + " " * (w - _width(c))
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    rule = "  ".join("─" * w for w in widths)
    return "\n".join([line(rows[0]), rule, *(line(r) for r in rows[1:])])


def _flag_lines(row: LogStatus) -> list[str]:
    name = f"{row.project} on {row.host} (log {row.origin})"
    if row.retired is not None:  # its refusals are on its page, not an INCIDENT any more
        r = row.retired
        return [f"RETIRED {name} at {stamp(r.at)} by {r.by}: {r.reason}"]
    lines = [
        f"INCIDENT {name}: the database refused its log at {stamp(r.at)} ({r.status}): {r.reason}"
        for r in row.refused
    ]
    if row.head_problem is not None:
        lines.append(
            f"HEAD {name}: its head cannot be read ({row.head_problem}); its state is not known"
        )
    if row.silent is not None:
        lines.append(
            f"SILENT {name}: no report for {duration_text(row.silent.seconds)} (the last at "
            f"{stamp(row.silent.since)}; allowed {duration_text(row.silent.threshold_seconds)})"
        )
    return lines


def unreported_lines(status: FleetStatus) -> list[str]:
    """One line per name reserved with no log yet: SILENT once it is late."""
    lines = []
    for name in status.unreported:
        said = (
            f"{name.project} on {name.host}: reserved for the role {name.role} at "
            f"{stamp(name.reserved)}, no log yet"
        )
        if name.silent is not None:
            allowed = duration_text(name.silent.threshold_seconds)
            lines.append(f"SILENT {said} for {duration_text(name.silent.seconds)} "
                         f"(allowed {allowed})")  # fmt: skip
        else:
            lines.append(f"awaiting {said}")
    return lines


def totals(status: FleetStatus) -> str:
    refused = f"{status.incidents} refused by the database" + (
        " since their last acceptance: INCIDENT" if status.incidents else ""
    )
    retired = sum(row.retired is not None for row in status.rows)
    logs = f"{len(status.rows)} logs" + (f" ({retired} retired)" if retired else "")
    return f"{logs}, {refused}, {status.silent} silent"


def text(status: FleetStatus) -> str:
    if not status.rows and not status.unreported:
        return f"{status.where}: no log yet (a host enrols at its first shipment)"
    lines = [_table(status), ""]
    for row in status.rows:
        lines += _flag_lines(row)
    lines += unreported_lines(status)
    lines.append(f"{status.where} at {stamp(status.generated_at)}: {totals(status)}")
    return "\n".join(lines)


def _silence_json(silent: Silence | None) -> dict[str, Any] | None:
    if silent is None:
        return None
    return {
        "since": stamp(silent.since),
        "seconds": int(silent.seconds),
        "threshold_seconds": int(silent.threshold_seconds),
    }


def _row_json(row: LogStatus) -> dict[str, Any]:
    return {
        "project": row.project,
        "host": row.host,
        "build": row.build,
        "origin": row.origin,
        "state": row.state,
        "since": row.told("since"),
        "because": row.told("because"),
        "reason": row.told("reason"),
        "last_observation": row.told("last_observation"),
        "baseline_version": row.told("baseline_version"),
        "open_escalations": row.open_escalations,
        "overdue_escalations": row.overdue_escalations,
        "escalations": [e.__dict__ for e in row.escalations],
        "lines": row.lines,
        "checkpoint": (
            {"size": row.checkpoint.size, "accepted": stamp(row.checkpoint.accepted)}
            if row.checkpoint
            else None
        ),
        "head_at": row.head_at,
        "last_report": stamp(row.last_report),
        "silent": _silence_json(row.silent),
        "refused": [
            {"at": stamp(r.at), "status": r.status, "reason": r.reason} for r in row.refused
        ],
        "incident": row.incident,
        "head_problem": row.head_problem,
        "retired": (
            {"at": stamp(row.retired.at), "by": row.retired.by, "reason": row.retired.reason}
            if row.retired
            else None
        ),
    }


def as_json(status: FleetStatus) -> dict[str, Any]:
    return {
        "database": status.where,
        "generated_at": stamp(status.generated_at),
        "logs": [_row_json(row) for row in status.rows],
        "incidents": status.incidents,
        "silent": status.silent,
        "unreported": [
            {
                "project": name.project,
                "host": name.host,
                "role": name.role,
                "reserved": stamp(name.reserved),
                "silent": _silence_json(name.silent),
            }
            for name in status.unreported
        ],
    }


def page(report: FleetReport, made_by: str = "sealguard fleet report") -> str:
    """The page, rendered as the single report's is (autoescaping, strict)."""
    import jinja2

    from sealguard.report.html import MODES
    from sealguard.report.plots import colour

    templates = jinja2.Environment(
        loader=jinja2.PackageLoader("sealguard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return templates.get_template("fleet_report.html.j2").render(
        report=report,
        status=report.status,
        rows=[(row, _cells(row), _flag_lines(row)) for row in report.status.rows],
        columns=COLUMNS,
        projects=report.projects(),
        details=report.details,
        stamp=stamp,
        mode_colour=lambda mode: MODES.get(mode or "", "#616161"),
        colour=colour,
        duration=duration_text,
        kept=KEPT,
        made_by=made_by,
        totals=totals(report.status),
        unreported=unreported_lines(report.status),
    )
