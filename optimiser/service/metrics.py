"""Prometheus metrics in the text exposition format (0.0.4), without extra dependencies."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
SOLVE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

Labels = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Labels, values: Labels, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass
class Counter:
    name: str
    help: str
    labels: Labels = ()
    values: dict[Labels, float] = field(default_factory=dict)

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for key, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(self.labels, key)} {_number(value)}"


@dataclass
class Histogram:
    name: str
    help: str
    labels: Labels = ()
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: dict[Labels, list[int]] = field(default_factory=dict)
    sums: dict[Labels, float] = field(default_factory=dict)

    def observe(self, value: float, *labels: str) -> None:
        counts = self.counts.get(labels)
        if counts is None:
            counts = self.counts[labels] = [0] * (len(self.buckets) + 1)
            self.sums[labels] = 0.0
        counts[bisect_left(self.buckets, value)] += 1
        self.sums[labels] += value

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for key in sorted(self.counts):
            running = 0
            for bound, count in zip((*self.buckets, math.inf), self.counts[key], strict=True):
                running += count
                le = 'le="' + _number(bound) + '"'
                yield f"{self.name}_bucket{_labels(self.labels, key, le)} {running}"
            yield f"{self.name}_sum{_labels(self.labels, key)} {_number(self.sums[key])}"
            yield f"{self.name}_count{_labels(self.labels, key)} {running}"


@dataclass
class Gauge:
    """A value read when scraped."""

    name: str
    help: str
    read: Callable[[], dict[Labels, float]]
    labels: Labels = ()

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} gauge"
        for key, value in sorted(self.read().items()):
            yield f"{self.name}{_labels(self.labels, key)} {_number(value)}"


class Metrics:
    """The service's metrics. Updated from the event loop only."""

    def __init__(self) -> None:
        self.requests = Counter(
            "triage_http_requests_total", "HTTP requests by route and status code.",
            ("method", "route", "status"),
        )
        self.latency = Histogram(
            "triage_http_request_duration_seconds", "HTTP request latency by route.",
            ("method", "route"),
        )
        self.solve_seconds = Histogram(
            "triage_solve_seconds", "Time in the solver process per task (validation, solve, "
            "result).", ("kind", "outcome"), SOLVE_BUCKETS,
        )
        self.jobs_finished = Counter(
            "triage_jobs_finished_total", "Jobs finished, by kind and final status.",
            ("kind", "status"),
        )
        self.rejected = Counter(
            "triage_rejected_total", "Requests refused by a limit (rate, concurrency, size...).",
            ("reason",),
        )
        self.cache = Counter(
            "triage_result_cache_total", "POST /v1/solve answered from the result cache or not.",
            ("outcome",),
        )
        self.worker_restarts = Counter(
            "triage_worker_restarts_total", "Solver processes killed and replaced.", ("reason",)
        )
        self.gauges: list[Gauge] = []

    def gauge(self, name: str, help: str, read: Callable[[], dict[Labels, float]],
              labels: Labels = ()) -> None:
        self.gauges.append(Gauge(name, help, read, labels))

    def render(self) -> str:
        lines: list[str] = []
        metrics: list[Counter | Histogram | Gauge] = [
            self.requests, self.latency, self.solve_seconds, self.jobs_finished, self.rejected,
            self.cache, self.worker_restarts, *self.gauges,
        ]
        for metric in metrics:
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"
