"""Metrics read at scrape time from what the process already knows.

Nothing here costs the request path anything: each collector walks an
in-memory structure when Prometheus scrapes ``/metrics``. Names, help and
labels come from ``metric_catalogue``, which the dashboard generator shares.

With ``--workers N`` (``PROMETHEUS_MULTIPROC_DIR``) a scrape reaches one
worker and only file-backed metrics are merged across workers. The routing
collector describes state every worker holds alike (the routing table and
the active rollouts), so the answering worker's view is the service's view and
it is exported in that mode too. The per-process counters (prediction log,
mirror comparisons) and the lease holder's monitor values would be one
worker's share, so they are exported only with one process per server (one
per container on Kubernetes).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from shipyard.deploy.policy import (
    ABPolicy,
    BanditPolicy,
    BlueGreenPolicy,
    CanaryPolicy,
    Policy,
    ShadowPolicy,
)
from shipyard.serving.metric_catalogue import spec

if TYPE_CHECKING:
    from shipyard.serving.routing import RoutingTable
    from shipyard.serving.stats import StatsRecorder


def _gauge(name: str) -> GaugeMetricFamily:
    metric = spec(name)
    return GaugeMetricFamily(metric.name, metric.help, labels=list(metric.labels))


def _counter(name: str) -> CounterMetricFamily:
    metric = spec(name)
    return CounterMetricFamily(metric.name, metric.help, labels=list(metric.labels))


class _Collector:
    def describe(self) -> list[Metric]:
        return []  # no describe-time collection (the registry would call collect())


class PredictionLogCollector(_Collector):
    def __init__(self, counters: Any) -> None:
        self.counters = counters

    def collect(self) -> Iterator[Metric]:
        family = _counter("shipyard_prediction_log_records")
        for outcome in ("logged", "dropped_full", "dropped_write", "sampled_out"):
            family.add_metric([outcome], getattr(self.counters, outcome))
        yield family


class MonitorCollector(_Collector):
    """The monitor runner's last values; only the lease holder has any."""

    def __init__(self, latest: Mapping[tuple[str, str, str], float]) -> None:
        self.latest = latest

    def collect(self) -> Iterator[Metric]:
        family = _gauge("shipyard_monitor_value")
        for (monitor, deployment, metric), value in list(self.latest.items()):
            family.add_metric([monitor, deployment, metric], value)
        yield family


class ComparisonCollector(_Collector):
    """Shadow and canary agreement, from the per-version statistics the process keeps."""

    def __init__(self, stats: StatsRecorder) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        family = _counter("shipyard_mirror_comparisons")
        for (deployment, version, baseline), totals in self.stats.comparison_totals().items():
            compared, agreed, dropped = totals
            labels = [deployment, str(version), str(baseline)]
            family.add_metric([*labels, "agreed"], agreed)
            family.add_metric([*labels, "disagreed"], compared - agreed)
            family.add_metric([*labels, "dropped"], dropped)
        yield family


def route_weights(policy: Policy) -> list[float]:
    """Percent of requests each of ``policy.targets`` answers (shadows answer none)."""
    if isinstance(policy, CanaryPolicy | ABPolicy | BanditPolicy):
        return [arm.weight for arm in policy.arms]
    if isinstance(policy, ShadowPolicy):
        return [100.0] + [0.0] * len(policy.shadows)
    if isinstance(policy, BlueGreenPolicy):
        return [100.0, 0.0] if policy.active == "blue" else [0.0, 100.0]
    return [100.0]


class RoutingCollector(_Collector):
    """The routing table's traffic split and the active rollouts it last read."""

    def __init__(self, routing: RoutingTable) -> None:
        self.routing = routing

    def collect(self) -> Iterator[Metric]:
        weights = _gauge("shipyard_route_weight_percent")
        for name, route in list(self.routing.routes.items()):
            for model, weight in zip(route.models, route_weights(route.policy), strict=False):
                weights.add_metric([name, str(model.version.version)], weight)
        step = _gauge("shipyard_rollout_step_percent")
        started = _gauge("shipyard_rollout_step_started_timestamp_seconds")
        for rollout in list(self.routing.rollouts.values()):
            steps = rollout.spec.get("steps") or [0]
            percent = float(steps[min(rollout.step_index, len(steps) - 1)])
            step.add_metric(
                [rollout.deployment, str(rollout.candidate_version), rollout.status], percent
            )
            started.add_metric([rollout.deployment, rollout.status], rollout.step_started_at / 1000)
        yield weights
        yield step
        yield started
