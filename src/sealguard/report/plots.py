"""The report's plots as geometry for inline SVG: classes over time, probe durations and test
counts over time. Pure.

However many observations there are, a plot has at most `BINS` columns: each bin holds the
observations of an equal slice of the period's time, so 100,000 points draw as a few hundred
shapes and the page stays small and quick to lay out. Colours are chosen to stay apart in
greyscale print as well (each class also has its own pattern of lightness).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sealguard.classes import CLASSES
from sealguard.report.trail import Observation, Span

BINS = 240
WIDTH, HEIGHT = 960, 160  # the plot area, in SVG user units
COLOURS = {
    "STABLE": "#2e7d32",
    "TOOLING_DRIFT": "#f9a825",
    "PRODUCT_DRIFT": "#e65100",
    "INCIDENT": "#b71c1c",
}
UNKNOWN_COLOUR = "#6a1b9a"  # a class no sealguard writes: shown, never hidden
MIN_DRIFT_HEIGHT = 6.0  # user units: the least a column of drifts is drawn, however few


def colour(classification: str) -> str:
    return COLOURS.get(classification, UNKNOWN_COLOUR)


@dataclass
class Bin:
    start: datetime
    counts: dict[str, int] = field(default_factory=dict)
    durations: list[int] = field(default_factory=list)
    tests: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


@dataclass(frozen=True)
class Plot:
    title: str
    unit: str
    rects: list[Rect]
    lines: list[tuple[str, str, str]]  # (label, colour, SVG points "x,y x,y …")
    top: int  # the value at the top of the y axis
    first: str  # the time at the left edge
    last: str  # at the right edge


def _when(row: Observation) -> datetime | None:
    try:
        return datetime.fromisoformat(row.observed_at)
    except ValueError:
        return None


def bins(rows: Sequence[Observation], count: int = BINS) -> list[Bin]:
    """The observations in `count` equal slices of time from the first to the last."""
    timed = [(when, row) for row in rows if (when := _when(row)) is not None]
    if not timed:
        return []
    first, last = timed[0][0], max(when for when, _ in timed)
    span = (last - first).total_seconds() or 1.0
    slices = min(count, len(timed))
    found = [Bin(first + (last - first) * (i / slices)) for i in range(slices)]
    for when, row in timed:
        index = min(int((when - first).total_seconds() / span * slices), slices - 1)
        held = found[max(index, 0)]
        held.counts[row.classification] = held.counts.get(row.classification, 0) + 1
        held.durations.append(row.duration_ms)
        held.tests.append(row.test_count)
    return found


def _order(name: str) -> int:
    known = CLASSES.get(name)  # type: ignore[call-overload]
    return known.rank if known else 9


def classes_plot(found: Sequence[Bin], first: str, last: str) -> Plot:
    """Stacked columns: how many observations of each class each slice of time holds."""
    top = max((b.total for b in found), default=0) or 1
    width = WIDTH / max(len(found), 1)
    rects = []
    for i, held in enumerate(found):
        y = float(HEIGHT)
        for name in sorted(held.counts, key=_order):
            height = held.counts[name] / top * HEIGHT
            if name != "STABLE":  # one drift among thousands still shows
                height = max(height, MIN_DRIFT_HEIGHT)
            y -= height
            title = f"{held.start:%Y-%m-%d %H:%M}: {held.counts[name]:,} {name}"
            rects.append(Rect(i * width, max(y, 0.0), max(width, 0.5), height, colour(name), title))
    return Plot("Observations by class over time", "observations", rects, [], top, first, last)


def _line(values: Sequence[float], top: float) -> str:
    width = WIDTH / max(len(values), 1)
    return " ".join(
        f"{(i + 0.5) * width:.1f},{HEIGHT - v / top * HEIGHT:.1f}" for i, v in enumerate(values)
    )


def series_plot(
    title: str, unit: str, found: Sequence[Bin], *, of: str, first: str, last: str
) -> Plot:
    """The mean and the largest value of each slice (durations or test counts) as two lines."""
    kept = [getattr(b, of) for b in found if getattr(b, of)]
    means = [sum(v) / len(v) for v in kept]
    peaks = [float(max(v)) for v in kept]
    top = max(peaks, default=0.0) or 1.0
    lines = [
        ("largest", "#455a64", _line(peaks, top)),
        ("mean", "#1565c0", _line(means, top)),
    ]
    return Plot(title, unit, [], lines, int(top), first, last)


def plots(rows: Sequence[Observation]) -> list[Plot]:
    found = bins(rows)
    first = rows[0].observed_at if rows else ""
    last = rows[-1].observed_at if rows else ""
    return [
        classes_plot(found, first, last),
        series_plot(
            "Probe duration over time", "ms", found, of="durations", first=first, last=last
        ),
        series_plot("Tests counted over time", "tests", found, of="tests", first=first, last=last),
    ]


def timeline_strip(
    found: Sequence[Span], first: str, last: str, width: float = WIDTH
) -> list[Rect]:
    """One rectangle per span, placed by time; at least a pixel wide so a lone drift shows."""
    try:
        start, end = datetime.fromisoformat(first), datetime.fromisoformat(last)
    except ValueError:
        return []
    total = (end - start).total_seconds() or 1.0
    rects = []
    for span in found:
        try:
            a = datetime.fromisoformat(span.start)
            b = datetime.fromisoformat(span.end)
        except ValueError:
            continue
        x = (a - start).total_seconds() / total * width
        w = max((b - a).total_seconds() / total * width, 1.5)
        title = f"{span.count:,} {span.classification} {span.start} – {span.end}"
        rects.append(Rect(min(x, width - w), 0.0, w, 28.0, colour(span.classification), title))
    # STABLE spans first, the drifts drawn over them: a neighbouring span never hides one
    return sorted(rects, key=lambda rect: rect.fill != colour("STABLE"))
