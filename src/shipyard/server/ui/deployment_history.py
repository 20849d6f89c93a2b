"""The Deployment page's history: traffic, latency, errors, batch sizes, shadow agreement,
the latest predictions with their labels, and feedback coverage.

Nothing here reads the whole prediction log: traffic, latency and rows per request come
from the per-minute summary of the log (``monitoring/predlog_summary.py``, which reads
each segment once per process), errors and agreement from the counters every serving
process flushes to the store (``serving/history.py``, summed in SQL), the latest rows
from the one or two newest segments, labels and coverage from two indexed queries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from shipyard.monitoring.predlog_summary import (
    SIZE_LABELS,
    PredlogSummaries,
    TrafficSummary,
    latency_quantile,
)
from shipyard.sdk.client import Client
from shipyard.server.ui.charts import Chart
from shipyard.serving.history import ServingHistories

#: The charts of the log cover its last day; the store's counters their six hours.
LOG_WINDOW_S = 24 * 3600
COUNTER_WINDOW_S = 6 * 3600
#: Points per series: steps of whole minutes, so the charts need no downsampling.
STEPS = 720
RECENT = 50
SHOWN = ("at_ms", "request_id", "row", "version", "arm", "prediction", "score", "latency_ms")


@dataclass(frozen=True)
class VersionRow:
    label: str
    requests: int
    rows: int
    p50: float | None
    p90: float | None
    p99: float | None


def history_context(
    client: Client,
    summaries: PredlogSummaries,
    histories: ServingHistories,
    name: str,
    *,
    predictions_visible: bool,
) -> dict[str, Any]:
    summary = summaries.refresh(name, LOG_WINDOW_S, STEPS)
    context: dict[str, Any] = {
        "log": summary,
        "step_minutes": int(summary.steps[1] - summary.steps[0]) // 60
        if len(summary.steps) > 1
        else 1,
        "traffic_chart": _traffic(summary),
        "latency_chart": _latency(summary),
        "size_chart": _sizes(summary),
        "size_table": [
            (label, int(n)) for label, n in zip(SIZE_LABELS, summary.sizes(), strict=True) if n
        ],
        "log_versions": [
            VersionRow(
                arm.label,
                int(arm.requests.sum()),
                int(arm.rows.sum()),
                latency_quantile(arm.latency, 0.5),
                latency_quantile(arm.latency, 0.9),
                latency_quantile(arm.latency, 0.99),
            )
            for arm in summary.arms
        ],
    }
    history = histories.read(name, int(time.time()) - COUNTER_WINDOW_S)
    errors = Chart("errors", "Error rate (share of requests answered 5xx), per minute", time=True)
    errors.y = "share"
    for version, series in sorted(history.versions.items()):
        xs = sorted(series)
        errors.add(
            f"v{version}", xs, [series[m][1] / series[m][0] if series[m][0] else None for m in xs]
        )
    context["error_chart"] = errors
    context["errors_total"] = sum(e for s in history.versions.values() for _, e in s.values())
    context["requests_counted"] = sum(r for s in history.versions.values() for r, _ in s.values())
    agreement = Chart("agreement", "Agreement of compared versions, per minute", time=True)
    agreement.y = "share of rows that agree"
    pairs = []
    for (new, old), series in sorted(history.pairs.items()):
        xs = sorted(series)
        agreement.add(
            f"v{new} vs v{old}",
            xs,
            [series[m][1] / series[m][0] if series[m][0] else None for m in xs],
        )
        compared = sum(c for c, _ in series.values())
        agreed = sum(a for _, a in series.values())
        pairs.append(
            {
                "label": f"v{new} vs v{old}",
                "compared": compared,
                "agreed": agreed,
                "share": agreed / compared if compared else None,
            }
        )
    context["agreement_chart"] = agreement
    context["pairs"] = pairs
    labelled = client.store.feedback.count(name)
    context["coverage"] = {
        "labelled": labelled,  # rows with feedback: a label, outcomes or both
        "logged": summary.primary_rows,
        "share": min(labelled, summary.primary_rows) / summary.primary_rows
        if summary.primary_rows
        else None,
    }
    context["predictions_visible"] = predictions_visible
    context["recent"] = _recent(client, summaries, name) if predictions_visible else []
    return context


def _traffic(summary: TrafficSummary) -> Chart:
    chart = Chart("traffic", "Requests per step, by version", time=True)
    chart.y = "requests"
    steps = summary.steps.tolist()
    for arm in summary.arms:
        chart.add(arm.label, steps, arm.requests.astype(float).tolist())
    return chart


def _latency(summary: TrafficSummary) -> Chart:
    chart = Chart("latency", "Latency percentiles of answered requests (ms)", time=True)
    chart.y = "ms"
    steps = summary.steps.tolist()
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        chart.add(name, steps, summary.quantiles_ms(q))
    return chart


def _sizes(summary: TrafficSummary) -> Chart:
    chart = Chart("sizes", "Rows per request (mean of answered requests)", time=True)
    chart.y = "rows"
    requests = sum((a.requests for a in summary.arms if not a.shadow), np.zeros(len(summary.steps)))
    rows = sum((a.rows for a in summary.arms if not a.shadow), np.zeros(len(summary.steps)))
    chart.add(
        "mean rows per request",
        summary.steps.tolist(),
        [float(r / n) if n else None for r, n in zip(rows, requests, strict=True)],
    )
    return chart


def _recent(client: Client, summaries: PredlogSummaries, name: str) -> list[dict[str, Any]]:
    table = summaries.latest(name, RECENT, SHOWN)
    if table is None:
        return []
    rows = _plain(table)
    labels = client.store.feedback.labels_for(name, [(r["request_id"], r["row"]) for r in rows])
    for r in rows:
        key = (r["request_id"], r["row"])
        r["labelled"] = key in labels
        r["label"] = labels.get(key)
    return rows


def _plain(table: pa.Table) -> list[dict[str, Any]]:
    wanted = [
        c
        for c in (
            "at_ms",
            "request_id",
            "row",
            "version",
            "arm",
            "prediction",
            "score",
            "latency_ms",
        )
        if c in table.column_names
    ]
    return table.select(wanted).to_pylist()
