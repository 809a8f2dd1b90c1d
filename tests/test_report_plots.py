"""The report's plots (report/plots.py): binned by time, so any history draws as few shapes."""

from sealguard.report import plots
from sealguard.report.trail import Observation, spans


def _row(seq: int, minute: int, klass: str = "STABLE", ms: int = 10, tests: int = 3) -> Observation:
    return Observation(
        seq=seq,
        event_id=f"RTE_{seq}",
        observed_at=f"2026-11-01T{minute // 60:02d}:{minute % 60:02d}:00Z",
        classification=klass,
        duration_ms=ms,
        test_count=tests,
    )


def test_many_observations_draw_as_at_most_bins_columns() -> None:
    rows = [_row(i, i % 1440, "TOOLING_DRIFT" if i == 700 else "STABLE") for i in range(1440)]
    found = plots.bins(rows)
    assert len(found) == plots.BINS
    assert sum(b.total for b in found) == 1440
    drawn = plots.plots(rows)
    assert len(drawn[0].rects) == plots.BINS + 1  # one stack per bin, and the lone drift
    assert {r.fill for r in drawn[0].rects} == {plots.COLOURS["STABLE"],
                                                plots.COLOURS["TOOLING_DRIFT"]}  # fmt: skip
    assert [label for label, _, _ in drawn[1].lines] == ["largest", "mean"]
    assert len(drawn[1].lines[0][2].split()) == plots.BINS


def test_a_series_shows_each_slices_mean_and_largest_value() -> None:
    rows = [_row(0, 0, ms=10), _row(1, 0, ms=30), _row(2, 10, ms=5)]
    found = plots.bins(rows, count=2)
    assert [b.durations for b in found] == [[10, 30], [5]]
    drawn = plots.series_plot("d", "ms", found, of="durations", first="a", last="b")
    assert drawn.top == 30
    peaks = [float(p.split(",")[1]) for p in drawn.lines[0][2].split()]
    means = [float(p.split(",")[1]) for p in drawn.lines[1][2].split()]
    assert peaks == [0.0, round(plots.HEIGHT - 5 / 30 * plots.HEIGHT, 1)]
    assert means[0] == round(plots.HEIGHT - 20 / 30 * plots.HEIGHT, 1)


def test_nothing_to_draw_and_a_class_nobody_writes() -> None:
    assert plots.bins([]) == []
    assert [p.rects for p in plots.plots([])] == [[], [], []]
    assert plots.colour("<b>") == plots.UNKNOWN_COLOUR
    assert plots.bins([_row(0, 0)] * 3)[0].total == 3  # one moment: one slice
    unreadable = Observation(seq=1, event_id="x", observed_at="yesterday", classification="STABLE")
    assert plots.bins([unreadable]) == []


def test_the_timeline_strip_places_each_span_by_time() -> None:
    rows = [_row(0, 0), _row(1, 30), _row(2, 60, "INCIDENT"), _row(3, 120)]
    strip = plots.timeline_strip(spans(rows), rows[0].observed_at, rows[-1].observed_at)
    assert [(round(r.x), r.fill) for r in strip] == [  # drifts drawn last: over the spans
        (0, plots.COLOURS["STABLE"]),
        (round(plots.WIDTH - 1.5), plots.COLOURS["STABLE"]),
        (round(plots.WIDTH / 2), plots.COLOURS["INCIDENT"]),
    ]
    assert strip[0].width == plots.WIDTH / 4
    assert plots.timeline_strip(spans(rows), "", "") == []


def test_one_drift_among_thousands_still_shows() -> None:
    rows = [_row(i, 0) for i in range(5000)] + [_row(5000, 0, "INCIDENT")]
    (column, drift) = plots.classes_plot(plots.bins(rows), "a", "b").rects
    assert drift.fill == plots.COLOURS["INCIDENT"] and drift.height == plots.MIN_DRIFT_HEIGHT
    assert column.height == plots.HEIGHT * 5000 / 5001
