"""The Monitoring pages: every monitor and alert, and one deployment's drift per feature
over time, reference against current distribution of a chosen feature, realized quality
beside the label-free estimate, and the alerts with their history.

Drift and quality over time are the values the monitor runs stored (what
``shipyard monitor results`` prints); nothing is recomputed per view. The current
distribution of the chosen feature is the only thing read from the prediction log: one
column of the newest rows of the monitor's window (at most ``SAMPLE_ROWS``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Request
from starlette.responses import Response

from shipyard.errors import InvalidInput, NotFound, ShipyardError
from shipyard.monitoring import service
from shipyard.monitoring.predlog_summary import PredlogSummaries
from shipyard.monitoring.profile import ColumnProfile, NumericProfile
from shipyard.monitoring.report import distribution
from shipyard.sdk.client import Client
from shipyard.server.ui.charts import Chart
from shipyard.server.ui.rendering import render, render_error
from shipyard.server.ui.viewer import viewer_of
from shipyard.store.monitor_store import MonitorRecord

router = APIRouter(include_in_schema=False)

HISTORY_RUNS = 200
ALERT_HISTORY = 100
SAMPLE_ROWS = 10_000
DEFAULT_WINDOW_S = 3600.0
QUALITY = ("accuracy", "f1", "roc_auc", "mae", "rmse")
OUTPUTS = {service.SCORE: "score", service.PREDICTION: "prediction"}


@router.get("/ui/monitoring")
def monitoring_page(request: Request) -> Response:
    """Every monitor with its last run, open alerts, and the alert history."""
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    monitors = client.list_monitors()
    alerts = client.store.monitors.recent_alerts(limit=ALERT_HISTORY)
    open_alerts = client.alerts(open_only=True)
    open_by_monitor: dict[str, int] = {}
    for alert in open_alerts:
        open_by_monitor[alert.monitor] = open_by_monitor.get(alert.monitor, 0) + 1
    context = {
        "monitors": [
            {
                "record": m,
                "rules": len(m.spec.get("rules", [])),
                "open": open_by_monitor.get(m.name, 0),
            }
            for m in monitors
        ],
        "open_alerts": open_alerts,
        "alerts": alerts,
        "cli": "shipyard monitor list",
    }
    return render(request, viewer, "monitoring.html", context)


@router.get("/ui/monitoring/{deployment}")
def deployment_monitoring_page(
    request: Request, deployment: str, feature: str | None = None
) -> Response:
    """One deployment: drift per feature over time, a feature's distributions, quality."""
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    summaries: PredlogSummaries = request.app.state.ui_predlog
    try:
        client.get_deployment(deployment)
        monitors = [m for m in client.list_monitors() if m.deployment == deployment]
        context = _drift_and_quality(client, monitors)
        chosen, dist = _feature(client, summaries, deployment, monitors, feature, context)
    except ShipyardError as error:
        return render_error(request, viewer, error)
    context |= {
        "deployment": deployment,
        "monitors": monitors,
        "feature": chosen,
        "distribution": dist,
        "alerts": client.store.monitors.recent_alerts(
            [m.name for m in monitors], limit=ALERT_HISTORY
        )
        if monitors
        else [],
        "cli": f"shipyard monitor report {deployment}",
    }
    return render(request, viewer, "monitoring_deployment.html", context)


def _drift_and_quality(client: Client, monitors: list[MonitorRecord]) -> dict[str, Any]:
    """Charts of the stored runs of the deployment's monitors (the first one that ran)."""
    drift = Chart("drift", "Drift statistic per feature, per monitor run", time=True)
    share = Chart("drift-share", "Share of drifted features, per monitor run", time=True)
    quality = Chart(
        "quality", "Realized quality (labels) beside the label-free estimate", time=True
    )
    latest: list[dict[str, Any]] = []
    latest_at = None
    monitor = None
    quality_latest: dict[str, float | None] = {}
    for record in monitors:
        runs = client.monitor_results(record.name, "drift_share", HISTORY_RUNS)
        if not runs and not client.monitor_results(record.name, "rows", 1):
            continue
        monitor = record.name
        runs.reverse()  # oldest first
        series: dict[str, tuple[list[float], list[float | None]]] = {}
        for run in runs:
            for column in run["details"].get("columns", []):
                xs, ys = series.setdefault(
                    OUTPUTS.get(column["column"], column["column"]), ([], [])
                )
                xs.append(run["at"] / 1000)
                ys.append(column.get("statistic"))
        for name, (xs, ys) in series.items():
            drift.add(name, xs, ys)
        share.add("drift share", [r["at"] / 1000 for r in runs], [r["value"] for r in runs])
        if runs:
            latest_at = runs[-1]["at"]
            latest = [
                {**c, "label": OUTPUTS.get(c["column"], c["column"])}
                for c in runs[-1]["details"].get("columns", [])
            ]
        for metric in (*QUALITY, "estimated_accuracy", "labelled"):
            values = client.monitor_results(record.name, metric, HISTORY_RUNS)
            if not values:
                continue
            values.reverse()
            quality_latest[metric] = values[-1]["value"]
            if metric != "labelled":
                label = (
                    "estimated accuracy (no labels)" if metric == "estimated_accuracy" else metric
                )
                quality.add(label, [v["at"] / 1000 for v in values], [v["value"] for v in values])
        break
    return {
        "drift_chart": drift,
        "share_chart": share,
        "quality_chart": quality,
        "latest_drift": latest,
        "latest_at": latest_at,
        "shown_monitor": monitor,
        "quality_latest": quality_latest,
    }


def _feature(
    client: Client,
    summaries: PredlogSummaries,
    deployment: str,
    monitors: list[MonitorRecord],
    feature: str | None,
    context: dict[str, Any],
) -> tuple[str | None, dict[str, Any] | None]:
    """The chosen feature (default: the most drifted one) with both distributions."""
    feature = feature or None  # an empty form field: the default
    version = service.serving_version(client.store, deployment)
    columns = list(version.signature.columns)
    choices = columns + list(OUTPUTS.values())
    if feature is not None and feature not in choices:
        shown = ", ".join(choices[:12]) + (", …" if len(choices) > 12 else "")
        raise InvalidInput(
            f"{version.uri} has no feature {feature!r}; choose one of its inputs ({shown})"
        )
    try:
        references = service.reference_of(client.store, version)
    except NotFound:
        context["reference_missing"] = version.uri
        return feature, None
    context["reference_missing"] = None
    if feature is None:
        drifted = sorted(
            (c for c in context["latest_drift"] if c["column"] in columns),
            key=lambda c: -(c.get("statistic") or 0.0),
        )
        feature = drifted[0]["column"] if drifted else columns[0] if columns else None
    if feature is None:
        return None, None
    key = next((k for k, v in OUTPUTS.items() if v == feature), feature)
    reference: ColumnProfile | None = references.get(key)
    if reference is None:
        return feature, None
    window_s = min(
        (float(m.spec.get("window_s", DEFAULT_WINDOW_S)) for m in monitors),
        default=DEFAULT_WINDOW_S,
    )
    logged = {"score": "score", "prediction": "prediction"}.get(feature, f"in.{feature}")
    since_ms = int((time.time() - window_s) * 1000)
    values, in_window = summaries.column_sample(deployment, logged, since_ms, SAMPLE_ROWS)
    current = pd.Series(values)
    if not len(current):
        return feature, {"empty": True, "window_s": window_s}
    result = distribution(reference, current)
    result.update(
        {"empty": False, "window_s": window_s, "sampled": len(current), "in_window": in_window}
    )
    if isinstance(reference, NumericProfile):
        edges = np.asarray(result["edges"])
        centres = ((edges[:-1] + edges[1:]) / 2).tolist()
        chart = Chart("distribution", f"{feature}: reference against current", xlabel=feature)
        chart.y = "share of rows"
        chart.add("reference", centres, result["reference"])
        chart.add("current", centres, result["current"])
        result["chart"] = chart
        result["rows"] = [
            (f"{lo:.4g} to {hi:.4g}", r, c)
            for lo, hi, r, c in zip(
                edges[:-1], edges[1:], result["reference"], result["current"], strict=True
            )
        ]
    else:
        result["chart"] = None
        result["rows"] = list(
            zip(result["levels"], result["reference"], result["current"], strict=True)
        )
    return feature, result
