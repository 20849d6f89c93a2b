"""Prometheus alerting rules for Shipyard, generated from the metric catalogue.

``shipyard alerts --out rules.yaml`` writes one rule group; every threshold is
an option with a documented default (``AlertThresholds``). The rules are
tested with ``promtool test rules`` (tests/observability/rules_test.yaml):
each alert fires on a synthetic breach and stays silent on normal series.
None of the anchors (MLflow, BentoML, MLServer, Seldon, KServe, Triton) ships
alert rules; this is why the file is generated rather than left to users.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import yaml

from shipyard.errors import InvalidInput
from shipyard.packaging.promql import quantile, rate, ratio, series

GROUP = "shipyard"


@dataclass(frozen=True)
class AlertThresholds:
    """Thresholds and durations of the generated rules (defaults suit a typical service)."""

    #: Share of requests answered 5xx, over 5 minutes, per deployment.
    error_ratio: float = 0.05
    #: Request latency 99th percentile (seconds), over 5 minutes, per deployment.
    p99_latency_s: float = 0.5
    #: A monitor's ``drift_share``: share of input columns that drifted.
    drift_share: float = 0.3
    #: A monitor's label-free ``estimated_accuracy`` (CBPE) below this.
    estimated_accuracy: float = 0.8
    #: Stream entries not yet delivered to the consumer group, and growing.
    stream_lag: float = 1000.0
    #: Minutes an active rollout may stay on one step before it counts as stuck.
    rollout_stuck_minutes: float = 30.0
    #: How long a condition must hold before the alert fires.
    for_minutes: float = 5.0

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) < 0:
                raise InvalidInput(f"{field.name} must not be negative")


def _rule(
    name: str, expr: str, for_: str, severity: str, summary: str, description: str
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": description},
    }


def build_rules(thresholds: AlertThresholds | None = None) -> dict[str, Any]:
    """The rule file as data (``{"groups": [...]}``), ready for YAML or a PrometheusRule."""
    t = thresholds or AlertThresholds()
    pending = f"{t.for_minutes:g}m"
    requests = "shipyard_requests_total"
    errors = ratio(
        rate(requests, 'status=~"5.."', "5m", by="deployment"),
        rate(requests, "", "5m", by="deployment"),
    )
    p99 = quantile(0.99, "shipyard_request_latency_seconds", "", "5m", "deployment")
    monitor = "max by (deployment, monitor) ({})"
    drift = monitor.format(series("shipyard_monitor_value", 'metric="drift_share"'))
    accuracy = monitor.format(series("shipyard_monitor_value", 'metric="estimated_accuracy"'))
    drops = (
        "sum without (outcome) (rate("
        + series("shipyard_prediction_log_records_total", 'outcome=~"dropped_full|dropped_write"')
        + "[5m]))"
    )
    lag = f"max by (stream, group) ({series('shipyard_stream_lag')})"
    lag_growth = f"max by (stream, group) (delta({series('shipyard_stream_lag')}[10m]))"
    failed_jobs = rate("shipyard_batch_jobs_total", 'status="failed"', "15m", fn="increase")
    step_started = (
        f"max by (deployment) ({series('shipyard_rollout_step_started_timestamp_seconds')})"
    )
    load_failures = rate("shipyard_model_load_failures_total", "", "10m", by="model", fn="increase")
    rules = [
        _rule(
            "ShipyardHighErrorRate",
            f"{errors}\n> {t.error_ratio:g}",
            pending,
            "critical",
            "Deployment {{ $labels.deployment }} answers too many server errors",
            "{{ $value | humanizePercentage }} of requests to {{ $labels.deployment }} "
            f"failed with 5xx over 5 minutes (threshold {t.error_ratio:.0%}).",
        ),
        _rule(
            "ShipyardHighLatencyP99",
            f"{p99}\n> {t.p99_latency_s:g}",
            pending,
            "warning",
            "Deployment {{ $labels.deployment }} is slow at the 99th percentile",
            "p99 latency of {{ $labels.deployment }} is {{ $value | humanizeDuration }} "
            f"(threshold {t.p99_latency_s:g}s).",
        ),
        _rule(
            "ShipyardInputDrift",
            f"{drift} > {t.drift_share:g}",
            "0m",  # a monitor already waits for its window; its value changes per run
            "warning",
            "Inputs of {{ $labels.deployment }} drifted",
            "Monitor {{ $labels.monitor }} sees {{ $value | humanizePercentage }} of the "
            "input columns of {{ $labels.deployment }} drifted "
            f"(threshold {t.drift_share:.0%}).",
        ),
        _rule(
            "ShipyardEstimatedAccuracyLow",
            f"{accuracy} < {t.estimated_accuracy:g}",
            "0m",
            "warning",
            "Estimated accuracy of {{ $labels.deployment }} is low",
            "Monitor {{ $labels.monitor }} estimates (without labels, CBPE) the accuracy of "
            "{{ $labels.deployment }} at {{ $value | humanizePercentage }} "
            f"(threshold {t.estimated_accuracy:.0%}).",
        ),
        _rule(
            "ShipyardPredictionLogDrops",
            f"{drops} > 0",
            pending,
            "warning",
            "{{ $labels.instance }} drops prediction log records",
            "The prediction log of {{ $labels.instance }} drops {{ $value | humanize }} "
            "records/s (queue full or write failures): monitors and rollouts see less traffic.",
        ),
        _rule(
            "ShipyardStreamLagGrowing",
            f"{lag} > {t.stream_lag:g}\nand\n{lag_growth} > 0",
            pending,
            "warning",
            "Stream {{ $labels.stream }} falls behind",
            "Consumer group {{ $labels.group }} of {{ $labels.stream }} has "
            "{{ $value | humanize }} undelivered entries and the backlog grew over 10 minutes "
            f"(threshold {t.stream_lag:g}).",
        ),
        _rule(
            "ShipyardBatchJobFailed",
            f"{failed_jobs} > 0",
            "0m",
            "warning",
            "A batch scoring job failed",
            "{{ $value | humanize }} batch job(s) failed in the last 15 minutes; "
            "`shipyard batch jobs` shows which; rerunning a job by its name resumes it.",
        ),
        _rule(
            "ShipyardRolloutStuck",
            f"time() - {step_started}\n> {t.rollout_stuck_minutes * 60:g}",
            "0m",
            "warning",
            "Rollout of {{ $labels.deployment }} is not progressing",
            "The rollout of {{ $labels.deployment }} has been on one step for "
            "{{ $value | humanizeDuration }} (threshold "
            f"{t.rollout_stuck_minutes:g} minutes): paused, short of traffic, or no "
            "rollout controller is running.",
        ),
        _rule(
            "ShipyardModelLoadFailing",
            f"{load_failures} > 0",
            "0m",
            "critical",
            "Model {{ $labels.model }} fails to load",
            "{{ $labels.model }} failed to load or warm {{ $value | humanize }} time(s) in "
            "10 minutes; its deployment keeps serving the version that works, if any.",
        ),
    ]
    return {"groups": [{"name": GROUP, "rules": rules}]}


class _Dumper(yaml.SafeDumper):
    """Multi-line expressions as literal blocks, as people write rule files."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render_rules(thresholds: AlertThresholds | None = None) -> str:
    """The Prometheus rule file (YAML)."""
    return yaml.dump(build_rules(thresholds), Dumper=_Dumper, sort_keys=False, width=100)
