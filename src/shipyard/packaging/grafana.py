"""The Grafana dashboard for Shipyard, generated from the metric catalogue.

Classic dashboard JSON (schemaVersion 39): import it in the UI or provision
it from a file. It is portable: the Prometheus data source is a template
variable (``datasource``), so no uid from our machine leaks into yours, and
every panel filters by ``deployment`` (and ``version``, ``model``, ``stream``).
Counters and histogram buckets are only read through ``rate()``/``increase()``
over ``$__rate_interval``: Triton's shipped dashboard plots raw cumulative
counters, which only ever go up and reset on restart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shipyard.packaging.promql import quantile, rate, ratio, series

UID = "shipyard-serving"
SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WINDOW = "$__rate_interval"
DEPLOYMENT = 'deployment=~"$deployment"'
VERSION = 'version=~"$version"'
MODEL = 'model=~"$model"'
STREAM = 'stream=~"$stream"'


@dataclass
class Panel:
    """One panel: a title, what it shows (description), its unit and its queries."""

    title: str
    description: str
    unit: str
    targets: list[tuple[str, str]]  # (PromQL, legend)
    kind: str = "timeseries"
    width: int = 8
    options: dict[str, Any] = field(default_factory=dict)
    thresholds: list[tuple[float | None, str]] = field(default_factory=list)


def _traffic() -> list[Panel]:
    requests = "shipyard_requests_total"
    scope = f"{DEPLOYMENT},{VERSION}"
    by_deployment = rate(requests, scope, WINDOW, by="deployment")

    def errors(klass: str) -> str:
        return ratio(rate(requests, f'{scope},status=~"{klass}.."', WINDOW, by="deployment"),
                     by_deployment)  # fmt: skip

    latency = "shipyard_request_latency_seconds"
    in_flight = series("shipyard_in_flight_requests", DEPLOYMENT)
    return [
        Panel("Request rate", "Predictions answered per second, per deployment.", "reqps",
              [(by_deployment, "{{deployment}}")]),
        Panel("Error ratio", "Share of requests answered with a server error (5xx: the model "
              "or the server failed) and a client error (4xx: invalid input), per deployment.",
              "percentunit",
              [(errors("5"), "5xx {{deployment}}"), (errors("4"), "4xx {{deployment}}")]),
        Panel("Latency percentiles", "Request-to-response time from the latency histogram "
              "(p50, p90, p99), per deployment.", "s",
              [(quantile(q, latency, DEPLOYMENT, WINDOW, "deployment"), f"p{q * 100:g} "
                "{{deployment}}") for q in (0.5, 0.9, 0.99)]),
        Panel("In-flight requests", "Requests being served now, summed over processes.",
              "short", [(f"sum by (deployment) ({in_flight})", "{{deployment}}")]),
    ]  # fmt: skip


def _models() -> list[Panel]:
    size, wait = "shipyard_batch_size", "shipyard_queue_wait_seconds"
    mean_size = ratio(rate(f"{size}_sum", MODEL, WINDOW, by="model"),
                      rate(f"{size}_count", MODEL, WINDOW, by="model"))  # fmt: skip
    return [
        Panel("Batch size", "Requests per model call (adaptive micro-batching): mean and p90.",
              "short", [(mean_size, "mean {{model}}"),
                        (quantile(0.9, size, MODEL, WINDOW, "model"), "p90 {{model}}")]),
        Panel("Queue wait", "Time a request waited for its batch to start (p50, p99).", "s",
              [(quantile(q, wait, MODEL, WINDOW, "model"), f"p{q * 100:g} {{{{model}}}}")
               for q in (0.5, 0.99)]),
        Panel("Model call time p99", "Time of one model call (a whole batch), p99.", "s",
              [(quantile(0.99, "shipyard_model_latency_seconds", MODEL, WINDOW, "model"),
                "{{model}}")]),
        Panel("Queue depth", "Requests waiting for a batch, per model.", "short",
              [(f"sum by (model) ({series('shipyard_queue_depth', MODEL)})", "{{model}}")]),
        Panel("Models loaded", "Model versions loaded, per serving process.", "short",
              [(f"sum by (instance) ({series('shipyard_models_loaded')})", "{{instance}}")]),
        Panel("Model load failures", "Model versions that failed to load or warm (the "
              "deployment keeps the version that works).", "short",
              [(rate("shipyard_model_load_failures_total", MODEL, WINDOW, by="model",
                     fn="increase"), "{{model}}")],
              thresholds=[(None, "green"), (1, "red")]),
    ]  # fmt: skip


def _rollouts() -> list[Panel]:
    requests = "shipyard_requests_total"
    per_version = rate(requests, DEPLOYMENT, WINDOW, by="deployment, version")
    total = rate(requests, DEPLOYMENT, WINDOW, by="deployment")
    comparisons = "shipyard_mirror_comparisons_total"
    pair = "deployment, version, baseline"
    agreement = ratio(
        rate(comparisons, f'{DEPLOYMENT},outcome="agreed"', WINDOW, by=pair),
        rate(comparisons, f'{DEPLOYMENT},outcome=~"agreed|disagreed"', WINDOW, by=pair),
    )
    started = series("shipyard_rollout_step_started_timestamp_seconds", DEPLOYMENT)
    return [
        Panel("Traffic split by version", "Share of each deployment's answered requests per "
              "version: a rollout's canary steps and a blue-green switch show here.",
              "percentunit",
              [(f"{per_version}\n/ on (deployment) group_left\n{total}",
                "{{deployment}} v{{version}}")],
              options={"stacking": "normal"}),
        Panel("Policy weights", "The traffic share each version gets by the deployment's "
              "policy (shadows get 0).", "percent",
              [(f"max by (deployment, version) "
                f"({series('shipyard_route_weight_percent', DEPLOYMENT)})",
                "{{deployment}} v{{version}}")]),
        Panel("Rollout step age", "Time an active rollout has spent on its current step; "
              "a long one is paused, short of traffic, or has no controller.", "s",
              [(f"time() - max by (deployment) ({started})", "{{deployment}}")]),
        Panel("Shadow and canary agreement", "Share of mirrored predictions that agree with "
              "the answer (shadow versus primary, canary versus baseline).", "percentunit",
              [(agreement, "{{deployment}} v{{version}} vs v{{baseline}}")]),
        Panel("Mirrors dropped", "Mirrored calls dropped per second (timed out, failed or "
              "over the pending limit); the answer never waits for them.", "ops",
              [(rate(comparisons, f'{DEPLOYMENT},outcome="dropped"', WINDOW,
                     by="deployment, version"), "{{deployment}} v{{version}}")]),
    ]  # fmt: skip


def _monitors() -> list[Panel]:
    def monitor(metrics: str) -> str:
        selector = f'{DEPLOYMENT},metric=~"{metrics}"'
        return (
            f"max by (deployment, monitor, metric) ({series('shipyard_monitor_value', selector)})"
        )

    return [
        Panel("Drift share", "Share of input columns a monitor found drifted (latest run).",
              "percentunit", [(monitor("drift_share"), "{{deployment}} {{monitor}}")],
              kind="gauge", thresholds=[(None, "green"), (0.3, "orange"), (0.5, "red")]),
        Panel("Quality", "Latest quality per monitor: estimated accuracy without labels "
              "(CBPE) and measured accuracy/F1/ROC AUC where labels arrived.", "percentunit",
              [(monitor("estimated_accuracy|accuracy|f1|roc_auc"),
                "{{deployment}} {{metric}}")],
              kind="gauge", thresholds=[(None, "red"), (0.7, "orange"), (0.8, "green")]),
        Panel("Prediction log", "Prediction log records per second by outcome; drops mean "
              "monitors and rollouts see less than the traffic.", "ops",
              [(rate("shipyard_prediction_log_records_total", "", WINDOW, by="outcome"),
                "{{outcome}}")]),
    ]  # fmt: skip


def _streams() -> list[Panel]:
    def gauge(name: str) -> str:
        return f"max by (stream, group) ({series(name, STREAM)})"

    return [
        Panel("Stream lag and pending", "Entries not yet delivered to the consumer group "
              "(lag) and delivered but not acknowledged (pending).", "short",
              [(gauge("shipyard_stream_lag"), "lag {{stream}}/{{group}}"),
               (gauge("shipyard_stream_pending"), "pending {{stream}}/{{group}}")]),
        Panel("Stream messages", "Messages per second by outcome (read, scored, "
              "dead_lettered, skipped).", "ops",
              [(rate("shipyard_stream_messages_total", STREAM, WINDOW, by="stream, outcome"),
                "{{stream}} {{outcome}}")]),
        Panel("Dead letters", "Messages sent to the dead-letter stream per second, by reason.",
              "ops", [(rate("shipyard_stream_dead_letters_total", STREAM, WINDOW,
                            by="stream, reason"), "{{stream}} {{reason}}")]),
    ]  # fmt: skip


def _batch() -> list[Panel]:
    return [
        Panel("Batch rows", "Batch rows per second by outcome (scored, rejected).",
              "suffix: rows/s",
              [(rate("shipyard_batch_rows_total", "", WINDOW, by="outcome"), "{{outcome}}")]),
        Panel("Batch partitions", "Partitions finished per second (progress of running jobs).",
              "ops", [(rate("shipyard_batch_partitions_total", "", WINDOW), "partitions")]),
        Panel("Batch jobs", "Jobs running now, and jobs ended (succeeded, failed) in the "
              "time range.", "short",
              [(f"sum ({series('shipyard_batch_jobs_running')})", "running"),
               (rate("shipyard_batch_jobs_total", "", "$__range", by="status",
                     fn="increase"), "{{status}}")],
              kind="stat"),
    ]  # fmt: skip


ROWS: tuple[tuple[str, Any], ...] = (
    ("Traffic", _traffic),
    ("Models and batching", _models),
    ("Rollouts and shadows", _rollouts),
    ("Model health", _monitors),
    ("Stream consumers", _streams),
    ("Batch jobs", _batch),
)


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    steps = [{"color": c, "value": v} for v, c in panel.thresholds] or [
        {"color": "green", "value": None}
    ]
    custom: dict[str, Any] = {}
    if panel.kind == "timeseries":
        custom = {"drawStyle": "line", "fillOpacity": 10, "showPoints": "never"}
        if "stacking" in panel.options:
            custom["stacking"] = {"mode": panel.options["stacking"], "group": "A"}
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {
            "defaults": {
                "unit": panel.unit,
                "thresholds": {"mode": "absolute", "steps": steps},
                "custom": custom,
                **({"min": 0, "max": 1} if panel.unit == "percentunit" else {}),
            },
            "overrides": [],
        },
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
        if panel.kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
                "range": True,
            }
            for i, (expr, legend) in enumerate(panel.targets)
        ],
    }


def _variable(name: str, query: str, label: str, selected: str | None = None) -> dict[str, Any]:
    current = (
        {"text": selected, "value": selected} if selected else {"text": "All", "value": "$__all"}
    )
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-variable"},
        "definition": query,
        "refresh": 2,  # on time range change: new deployments appear
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "sort": 1,
        "current": current,
    }


def build_dashboard(deployment: str | None = None) -> dict[str, Any]:
    """The dashboard as data; ``deployment`` pre-selects that deployment."""
    panels: list[dict[str, Any]] = []
    next_id, y = 1, 0
    for title, build in ROWS:
        panels.append(
            {"id": next_id, "type": "row", "title": title, "collapsed": False, "panels": [],
             "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}}
        )  # fmt: skip
        next_id, y, x = next_id + 1, y + 1, 0
        for panel in build():
            if x + panel.width > 24:
                x, y = 0, y + 8
            panels.append(_panel_json(panel, next_id, x, y))
            next_id, x = next_id + 1, x + panel.width
        y += 8
    requests = series("shipyard_requests_total")
    variables = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
        },
        _variable("deployment", f"label_values({requests}, deployment)", "Deployment", deployment),
        _variable(
            "version",
            f"label_values({series('shipyard_requests_total', DEPLOYMENT)}, version)",
            "Version",
        ),
        _variable("model", f"label_values({series('shipyard_batch_size_count')}, model)", "Model"),
        _variable("stream", f"label_values({series('shipyard_stream_lag')}, stream)", "Stream"),
    ]
    return {
        "uid": UID if deployment is None else f"{UID}-{deployment}"[:40],
        "title": "Shipyard" if deployment is None else f"Shipyard: {deployment}",
        "description": "Serving, rollouts, model health, streams and batch jobs of Shipyard "
        "(generated by `shipyard grafana`).",
        "tags": ["shipyard", "mlops"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": variables},
        "panels": panels,
    }


def render_dashboard(deployment: str | None = None) -> str:
    """The dashboard JSON (import in Grafana, or provision from a file)."""
    return json.dumps(build_dashboard(deployment), indent=2) + "\n"
