"""The auditor's report as one self-contained HTML page. Pure: a `Report` in, text out.

Every value on the page comes from a log someone may have tampered with, so the template is
rendered with autoescaping on: a `<script>` in a probe's name or a decision's reason is shown
as text. The page loads nothing: its CSS and SVG are inline, it uses the reader's own fonts and
holds no script, so it opens the same from a USB stick, offline, years later.
"""

import json
from typing import Any

import jinja2

from sealguard.report import plots
from sealguard.report.page import Report
from sealguard.report.trail import decisions_on, escalations_of, spans

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("sealguard", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
MODES = {"OBSERVING": "#2e7d32", "FROZEN": "#e65100", "HALTED": "#b71c1c", "UNSEALED": "#616161"}


def _bundle(value: dict[str, Any]) -> str:
    """The proof bundle as `log check-proof` reads it; without its optional decoded `event`
    (the page shows the event already, and `line_b64` is what the proof binds)."""
    return json.dumps({k: v for k, v in value.items() if k != "event"}, indent=2, sort_keys=True)


def render_html(report: Report) -> str:
    trail = report.trail
    timeline = spans(trail.observations)
    counts: dict[str, int] = {}
    for row in trail.observations:
        counts[row.classification] = counts.get(row.classification, 0) + 1
    return _templates.get_template("report.html.j2").render(
        report=report,
        trail=trail,
        timeline=timeline,
        counts=counts,
        plots=plots.plots(trail.observations),
        strip=plots.timeline_strip(
            timeline,
            trail.observations[0].observed_at if trail.observations else "",
            trail.observations[-1].observed_at if trail.observations else "",
        ),
        plot_width=plots.WIDTH,
        plot_height=plots.HEIGHT,
        colour=plots.colour,
        mode_colour=MODES.get(report.banner.mode, "#616161"),
        escalations_of=lambda event_id: escalations_of(trail, event_id),
        notable_ids=[event.event_id for event in trail.notable],
        decisions_on=lambda event_id: decisions_on(trail, event_id),
        bundle=_bundle,
    )
