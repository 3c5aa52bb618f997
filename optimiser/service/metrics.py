"""The service's Prometheus metrics, through prometheus-client.

Each Service has its own CollectorRegistry (several servers can live in one process, as in
tests). Metric names and labels are those documented in docs/service.md; gauges are read when
scraped. The `_created` series prometheus-client adds to counters and histograms by default
are turned off, so the exposition holds what the docs list and no more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

disable_created_metrics()

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
SOLVE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
CONTENT_TYPE = CONTENT_TYPE_LATEST

Labels = tuple[str, ...]
Reader = Callable[[], dict[Labels, float]]


class _Gauges(Collector):
    """Gauges whose values are read when scraped (queue depth, jobs by status, ...)."""

    def __init__(self) -> None:
        self.gauges: list[tuple[str, str, Labels, Reader]] = []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, documentation, labels, read in self.gauges:
            family = GaugeMetricFamily(name, documentation, labels=list(labels))
            for key, value in sorted(read().items()):
                family.add_metric(list(key), value)
            yield family


class Metrics:
    """The service's metrics. Updated from the event loop only."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "triage_http_requests_total", "HTTP requests by route and status code.",
            ("method", "route", "status"), registry=r,
        )
        self.latency = Histogram(
            "triage_http_request_duration_seconds", "HTTP request latency by route.",
            ("method", "route"), buckets=LATENCY_BUCKETS, registry=r,
        )
        self.solve_seconds = Histogram(
            "triage_solve_seconds", "Time in the solver process per task (validation, solve, "
            "result).", ("kind", "outcome"), buckets=SOLVE_BUCKETS, registry=r,
        )
        self.jobs_finished = Counter(
            "triage_jobs_finished_total", "Jobs finished, by kind and final status.",
            ("kind", "status"), registry=r,
        )
        self.rejected = Counter(
            "triage_rejected_total", "Requests refused by a limit (rate, concurrency, size...).",
            ("reason",), registry=r,
        )
        self.cache = Counter(
            "triage_result_cache_total", "POST /v1/solve answered from the result cache or not.",
            ("outcome",), registry=r,
        )
        self.worker_restarts = Counter(
            "triage_worker_restarts_total", "Solver processes killed and replaced.", ("reason",),
            registry=r,
        )
        self.store_errors = Counter(
            "triage_store_errors_total", "Job store operations that failed, by operation "
            "(a job that could not be recorded is refused with 503).", ("operation",),
            registry=r,
        )
        self._gauges = _Gauges()
        r.register(self._gauges)

    def gauge(self, name: str, documentation: str, read: Reader, labels: Labels = ()) -> None:
        """A gauge read when scraped: `read()` returns {label values: value}."""
        self._gauges.gauges.append((name, documentation, labels, read))

    def render(self) -> str:
        return generate_latest(self.registry).decode()
