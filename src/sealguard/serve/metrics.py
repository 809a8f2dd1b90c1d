"""Prometheus `/metrics`: each scrape reads the log as it stands (serve/reading.py) and reports
it, through a collector of its own registry; nothing accumulates in the process, so a restarted
server reports what a running one does."""

from collections.abc import Callable, Iterator
from datetime import UTC

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from sealguard.classes import CLASSES
from sealguard.serve.api import last_observed
from sealguard.serve.reading import Reading

MODES = ("OBSERVING", "FROZEN", "HALTED", "UNSEALED")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def families(reading: Reading) -> Iterator[Metric]:
    """The metrics of one reading of the log."""
    observed = CounterMetricFamily(
        "sealguard_observations", "Observations in the governance log, by class", labels=["class"]
    )
    for name in CLASSES:
        observed.add_metric([name], reading.history.by_class[name])
    yield observed
    state = GaugeMetricFamily(
        "sealguard_state", "The state of observation: 1 for the current one", labels=["state"]
    )
    for mode in MODES:
        state.add_metric([mode], 1.0 if reading.state.mode == mode else 0.0)
    yield state
    yield GaugeMetricFamily(
        "sealguard_baseline_version", "The baseline version in force", value=reading.state.version
    )
    yield from _ages(reading)
    yield from _schedule(reading)
    yield GaugeMetricFamily(
        "sealguard_escalations_open",
        "Escalations neither acknowledged nor delivered",
        value=len(reading.open_escalations),
    )
    yield GaugeMetricFamily(
        "sealguard_escalations_overdue",
        "Open escalations past their deadline",
        value=len(reading.overdue_escalations),
    )


def _ages(reading: Reading) -> Iterator[Metric]:
    """Seconds since the last observation and the last full audit; absent before the first."""
    last = last_observed(reading.history)
    if last is not None:
        yield GaugeMetricFamily(
            "sealguard_seconds_since_last_observation",
            "Seconds since the last observation started",
            value=(reading.now - last).total_seconds(),
        )
    if reading.full_audit_at is not None:
        yield GaugeMetricFamily(
            "sealguard_seconds_since_last_full_audit",
            "Seconds since the last full audit of the log (`sealguard verify`, `observe`)",
            value=(reading.now - reading.full_audit_at).total_seconds(),
        )


def _schedule(reading: Reading) -> Iterator[Metric]:
    """With `[schedule] every`: when the next observation is due, and how late it is."""
    due = reading.schedule
    if due is None or due.next_due is None:
        return
    yield GaugeMetricFamily(
        "sealguard_schedule_every_seconds", "Time between observations ([schedule] every)",
        value=due.every_seconds,
    )  # fmt: skip
    yield GaugeMetricFamily(
        "sealguard_next_observation_due_timestamp_seconds",
        "When the next observation is due (Unix time)",
        value=due.next_due.replace(tzinfo=UTC).timestamp(),
    )
    yield GaugeMetricFamily(
        "sealguard_seconds_until_next_observation",
        "Seconds until the next observation is due; negative when it is late",
        value=(due.next_due - reading.now).total_seconds(),
    )
    yield GaugeMetricFamily(
        "sealguard_observation_late_seconds",
        "Seconds the next observation is late (0 when it is not yet due)",
        value=due.late_by_seconds,
    )
    yield GaugeMetricFamily(
        "sealguard_observation_overdue",
        "1 when the next observation is late beyond the grace: a silence `heartbeat` escalates",
        value=1.0 if due.overdue else 0.0,
    )


class LogCollector(Collector):
    """Reads the log at every scrape."""

    def __init__(self, reading: Callable[[], Reading]) -> None:
        self.reading = reading

    def collect(self) -> Iterator[Metric]:
        return families(self.reading())


def registry(reading: Callable[[], Reading]) -> CollectorRegistry:
    """A registry of its own (not prometheus_client's global one) holding only the collector."""
    found = CollectorRegistry(auto_describe=False)
    found.register(LogCollector(reading))
    return found


def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE)
