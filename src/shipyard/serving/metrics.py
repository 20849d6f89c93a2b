"""Prometheus metrics of one serving process (its own registry: no globals).

Names, kinds and labels are also declared in ``metric_catalogue`` (the
dashboard and alert generators read it); a test keeps the two equal.

Label children are cached so the hot path does a dict lookup, not a
``labels()`` call with its validation, per observation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import Collector

from shipyard.serving.collectors import (
    ComparisonCollector,
    MonitorCollector,
    PredictionLogCollector,
    RoutingCollector,
)

if TYPE_CHECKING:
    from shipyard.serving.routing import RoutingTable
    from shipyard.serving.stats import StatsRecorder

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServingMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        multiprocess = "PROMETHEUS_MULTIPROC_DIR" in os.environ
        self.registry = registry or CollectorRegistry(auto_describe=True)
        gauge_mode: dict[str, Any] = {"multiprocess_mode": "livesum"} if multiprocess else {}
        self.requests = Counter(
            "shipyard_requests",
            "Prediction requests by outcome.",
            ["deployment", "version", "protocol", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shipyard_request_latency_seconds",
            "Time from request to response.",
            ["deployment", "protocol"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "shipyard_queue_wait_seconds",
            "Time a request waited for its batch.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_time = Histogram(
            "shipyard_model_latency_seconds",
            "Time of one model call (a whole batch).",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "shipyard_batch_size",
            "Requests per model call.",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "shipyard_queue_depth",
            "Requests waiting for a batch.",
            ["model"],
            registry=self.registry,
            **gauge_mode,
        )
        self.in_flight = Gauge(
            "shipyard_in_flight_requests",
            "Requests being served now.",
            ["deployment"],
            registry=self.registry,
            **gauge_mode,
        )
        self.load_time = Histogram(
            "shipyard_model_load_seconds",
            "Time to load and warm a model version.",
            ["model"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.load_failures = Counter(
            "shipyard_model_load_failures",
            "Model versions that failed to load or warm.",
            ["model"],
            registry=self.registry,
        )
        self.models_loaded = Gauge(
            "shipyard_models_loaded",
            "Model versions loaded in this process.",
            registry=self.registry,
            **gauge_mode,
        )
        #: Collectors whose values are the same in every worker (multiprocess /metrics).
        self.shared: list[Collector] = []
        self._request_children: dict[tuple[str, str, str, str], Any] = {}
        self._latency_children: dict[tuple[str, str], Any] = {}
        self._in_flight_children: dict[str, Any] = {}

    def count_request(self, deployment: str, version: str, protocol: str, status: int) -> None:
        key = (deployment, version, protocol, str(status))
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(*key)
        child.inc()

    def observe_latency(self, deployment: str, protocol: str, seconds: float) -> None:
        key = (deployment, protocol)
        child = self._latency_children.get(key)
        if child is None:
            child = self._latency_children[key] = self.latency.labels(*key)
        child.observe(seconds)

    def in_flight_change(self, deployment: str, delta: int) -> None:
        child = self._in_flight_children.get(deployment)
        if child is None:
            child = self._in_flight_children[deployment] = self.in_flight.labels(deployment)
        child.inc(delta)

    def watch_prediction_log(self, counters: Any) -> None:
        """Expose the prediction log's counters (read at scrape time, no hot-path cost)."""
        self.registry.register(PredictionLogCollector(counters))

    def watch_monitors(self, latest: Mapping[tuple[str, str, str], float]) -> None:
        """Monitor values as gauges (``shipyard_monitor_value``), read at scrape time."""
        self.registry.register(MonitorCollector(latest))

    def watch_comparisons(self, stats: StatsRecorder) -> None:
        """Shadow/canary agreement counters (``shipyard_mirror_comparisons``)."""
        self.registry.register(ComparisonCollector(stats))

    def watch_routing(self, routing: RoutingTable) -> None:
        """Traffic split and rollout step gauges; alike in every worker, so they are
        also exported in multiprocess mode (``shared``)."""
        collector = RoutingCollector(routing)
        self.registry.register(collector)
        self.shared.append(collector)

    def batch_observer(self, model: str) -> ModelBatchObserver:
        return ModelBatchObserver(self, model)


class ModelBatchObserver:
    """Feeds one model's batch sizes, queue waits and call times to the metrics."""

    def __init__(self, metrics: ServingMetrics, model: str) -> None:
        self._wait = metrics.queue_wait.labels(model)
        self._time = metrics.model_time.labels(model)
        self._size = metrics.batch_size.labels(model)
        self._depth = metrics.queue_depth.labels(model)

    def observe_batch(self, size: int, queue_waits_s: Sequence[float], run_s: float) -> None:
        self._size.observe(size)
        self._time.observe(run_s)
        for wait in queue_waits_s:
            self._wait.observe(wait)
        self._depth.set(0)

    def observe_queue_depth(self, depth: int) -> None:
        self._depth.set(depth)
