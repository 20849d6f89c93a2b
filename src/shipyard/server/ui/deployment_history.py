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

import pyarrow as pa

from shipyard.monitoring.predlog_summary import (
    SIZE_LABELS,
    Counts,
    PredlogSummaries,
    TrafficSummary,
)
from shipyard.sdk.client import Client
from shipyard.server.ui.charts import Chart
from shipyard.serving.history import serving_history

#: The charts of the log cover the last day of it; the store's counters, six hours.
LOG_WINDOW_S = 24 * 3600
COUNTER_WINDOW_S = 6 * 3600
RECENT = 50


@dataclass(frozen=True)
class VersionRow:
    label: str
    requests: int
    rows: int
    p50: float | None
    p90: float | None
    p99: float | None


def _label(version: int, shadow: bool) -> str:
    return f"v{version} (shadow)" if shadow else f"v{version}"


def history_context(
    client: Client,
    summaries: PredlogSummaries,
    name: str,
    *,
    predictions_visible: bool,
) -> dict[str, Any]:
    now = int(time.time())
    summary = summaries.refresh(name, since_s=now - LOG_WINDOW_S - 60)
    minutes = _axis(summary, now)
    context: dict[str, Any] = {
        "log": summary,
        "traffic_chart": _traffic(summary, minutes),
        "latency_chart": _latency(summary),
        "size_chart": _sizes(summary),
        "size_table": _size_table(summary),
        "log_versions": _versions(summary),
    }
    history = serving_history(client.store, name, now - COUNTER_WINDOW_S)
    errors = Chart("errors", "Error rate (share of requests answered 5xx), per minute", time=True)
    errors.xlabel, errors.y = "time", "share"
    for version, series in sorted(history.versions.items()):
        xs = sorted(series)
        errors.add(
            f"v{version}", xs, [series[m][1] / series[m][0] if series[m][0] else None for m in xs]
        )
    context["error_chart"] = errors
    context["errors_total"] = sum(e for s in history.versions.values() for _, e in s.values())
    context["requests_counted"] = sum(r for s in history.versions.values() for r, _ in s.values())
    agreement = Chart("agreement", "Agreement of compared versions (shadow or canary)", time=True)
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
    labelled = client.store.feedback.count_labelled(name)
    context["coverage"] = {
        "labelled": labelled,
        "logged": summary.primary_rows,
        "share": min(labelled, summary.primary_rows) / summary.primary_rows
        if summary.primary_rows
        else None,
    }
    context["predictions_visible"] = predictions_visible
    context["recent"] = _recent(client, summaries, name) if predictions_visible else []
    return context


def _axis(summary: TrafficSummary, now: int) -> list[int]:
    """Every minute of the last day of the log (empty minutes are zero traffic)."""
    if summary.last_ms is None:
        return []
    end = min(now, summary.last_ms // 1000) // 60 * 60
    start = end - LOG_WINDOW_S
    first = min((m for m in summary.minutes() if m >= start), default=end)
    return list(range(first, end + 60, 60))


def _traffic(summary: TrafficSummary, minutes: list[int]) -> Chart:
    chart = Chart("traffic", "Requests per minute, by version", time=True)
    chart.y = "requests"
    for version, shadow in summary.versions():
        chart.add(
            _label(version, shadow),
            minutes,
            [
                float(c.requests) if (c := summary.cells.get((m, version, shadow))) else 0.0
                for m in minutes
            ],
        )
    return chart


def _latency(summary: TrafficSummary) -> Chart:
    chart = Chart("latency", "Latency percentiles of answered requests (ms), per minute", time=True)
    chart.y = "ms"
    per_minute = summary.primary_by_minute()
    xs = sorted(per_minute)
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        chart.add(name, xs, [per_minute[m].quantile_ms(q) for m in xs])
    return chart


def _sizes(summary: TrafficSummary) -> Chart:
    chart = Chart("sizes", "Rows per request (mean), per minute", time=True)
    chart.y = "rows"
    per_minute = summary.primary_by_minute()
    xs = sorted(per_minute)
    chart.add(
        "mean rows per request",
        xs,
        [
            per_minute[m].rows / per_minute[m].requests if per_minute[m].requests else None
            for m in xs
        ],
    )
    return chart


def _size_table(summary: TrafficSummary) -> list[tuple[str, int]]:
    total = Counts()
    for counts in summary.primary_by_minute().values():
        total.add(counts)
    return [(label, int(n)) for label, n in zip(SIZE_LABELS, total.sizes, strict=True) if n]


def _versions(summary: TrafficSummary) -> list[VersionRow]:
    return [
        VersionRow(
            _label(version, shadow),
            counts.requests,
            counts.rows,
            counts.quantile_ms(0.5),
            counts.quantile_ms(0.9),
            counts.quantile_ms(0.99),
        )
        for (version, shadow), counts in sorted(summary.by_version().items())
    ]


def _recent(client: Client, summaries: PredlogSummaries, name: str) -> list[dict[str, Any]]:
    table = summaries.latest(name, RECENT)
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
