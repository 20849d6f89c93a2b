"""Prometheus metrics of one serving process (its own registry: no globals).

Label children are cached so the hot path does a dict lookup, not a
``labels()`` call with its validation, per observation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
        self.registry.register(_PredictionLogCollector(counters))

    def watch_monitors(self, latest: dict[tuple[str, str], float]) -> None:
        """Monitor values as gauges (``shipyard_monitor_value``), read at scrape time."""
        self.registry.register(_MonitorCollector(latest))

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


class _PredictionLogCollector:
    def __init__(self, counters: Any) -> None:
        self.counters = counters

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily

        family = CounterMetricFamily(
            "shipyard_prediction_log_records",
            "Prediction log records by outcome.",
            labels=["outcome"],
        )
        for outcome in ("logged", "dropped_full", "dropped_write", "sampled_out"):
            family.add_metric([outcome], getattr(self.counters, outcome))
        yield family

    def describe(self) -> list[Any]:
        return []


class _MonitorCollector:
    def __init__(self, latest: dict[tuple[str, str], float]) -> None:
        self.latest = latest

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily(
            "shipyard_monitor_value",
            "Latest value of a monitor metric.",
            labels=["monitor", "metric"],
        )
        for (monitor, metric), value in list(self.latest.items()):
            family.add_metric([monitor, metric], value)
        yield family

    def describe(self) -> list[Any]:
        return []
