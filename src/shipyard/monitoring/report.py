"""Monitoring reports: one computation, rendered as JSON or a self-contained HTML page.

The HTML has no scripts, fonts or CDN links: distributions and time series
are inline SVG, so the file works offline and can be mailed or archived.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import NotFound
from shipyard.monitoring import service
from shipyard.monitoring.profile import CategoricalProfile, NumericProfile
from shipyard.monitoring.quality import evaluate
from shipyard.store import Store

BARS = 20


def build_report(store: Store, deployment: str, window_s: float | None) -> dict[str, Any]:
    """Drift per column with reference and current distributions, and quality per hour."""
    version = service.serving_version(store, deployment)
    frame = service.window_frame(store, deployment, window_s)
    report: dict[str, Any] = {
        "deployment": deployment,
        "version": version.uri,
        "window_s": window_s,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": len(frame),
        "drift": None,
        "distributions": {},
        "quality": [],
        "hourly": [],
    }
    if frame.empty:
        return report
    try:
        references = service.reference_of(store, version)
        drift = service.drift(store, deployment, window_s)
        report["drift"] = drift.to_dict()
        for result in drift.columns:
            current = (
                frame["score"]
                if result.column == service.SCORE
                else frame["prediction"]
                if result.column == service.PREDICTION
                else frame.get(f"in.{result.column}")
            )
            if current is not None:
                report["distributions"][result.column] = distribution(
                    references[result.column], current
                )
    except NotFound:
        report["drift"] = None
    report["quality"] = [q.to_dict() for q in service.quality(store, deployment, window_s)]
    hours = pd.to_datetime(frame["at_ms"], unit="ms", utc=True).dt.floor("h")
    outputs = version.signature.outputs
    task = outputs.task if outputs is not None else "other"
    classes = list(outputs.classes) if outputs is not None and outputs.classes else None
    for hour, group in frame.groupby(hours):
        hourly = (
            evaluate(group, task, classes, hour.isoformat())
            if task in ("classification", "regression")
            else None
        )
        report["hourly"].append(
            {
                "hour": hour.isoformat(),
                "rows": len(group),
                "metrics": hourly.metrics if hourly else {},
                "estimated": hourly.estimated if hourly else {},
            }
        )
    return report


def distribution(reference: Any, current: pd.Series) -> dict[str, Any]:
    """Reference and current shares per bin (numeric) or per level (categorical)."""
    if isinstance(reference, NumericProfile):
        values = pd.to_numeric(current, errors="coerce").dropna().to_numpy(dtype="float64")
        low = min(reference.minimum, values.min() if len(values) else reference.minimum)
        high = max(reference.maximum, values.max() if len(values) else reference.maximum)
        edges = np.linspace(low, high if high > low else low + 1, BARS + 1)
        levels = np.linspace(0.0, 1.0, len(reference.quantiles))
        ref_cdf = np.interp(edges, reference.quantiles, levels, left=0.0, right=1.0)
        cur_counts = np.histogram(values, bins=edges)[0]
        return {
            "kind": "numeric",
            "edges": edges.tolist(),
            "reference": np.diff(ref_cdf).tolist(),
            "current": (cur_counts / max(cur_counts.sum(), 1)).tolist(),
        }
    assert isinstance(reference, CategoricalProfile)
    counts = current.dropna().astype(str).value_counts()
    categories = sorted(set(reference.frequencies) | set(counts.index))[:BARS]
    total_ref = max(sum(reference.frequencies.values()), 1)
    total_cur = max(int(counts.sum()), 1)
    return {
        "kind": "categorical",
        "levels": categories,
        "reference": [reference.frequencies.get(k, 0) / total_ref for k in categories],
        "current": [int(counts.get(k, 0)) / total_cur for k in categories],
    }


def _bars(distribution: dict[str, Any], width: int = 320, height: int = 90) -> str:
    ref, cur = distribution["reference"], distribution["current"]
    n = max(len(ref), 1)
    peak = max(max(ref, default=0), max(cur, default=0)) or 1.0
    slot = width / n
    parts = [f'<svg width="{width}" height="{height}" role="img">']
    for i, (a, b) in enumerate(zip(ref, cur, strict=True)):
        x = i * slot
        for offset, value, colour in ((0.05, a, "#9ca3af"), (0.5, b, "#2563eb")):
            bar = value / peak * (height - 4)
            parts.append(
                f'<rect x="{x + slot * offset:.1f}" y="{height - bar:.1f}" '
                f'width="{slot * 0.42:.1f}" height="{bar:.1f}" fill="{colour}"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _line(points: list[float], width: int = 320, height: int = 90) -> str:
    if len(points) < 2:
        return "<em>not enough points</em>"
    low, high = min(points), max(points)
    span = high - low or 1.0
    coords = " ".join(
        f"{i / (len(points) - 1) * width:.1f},{height - 4 - (p - low) / span * (height - 8):.1f}"
        for i, p in enumerate(points)
    )
    return (
        f'<svg width="{width}" height="{height}" role="img"><polyline fill="none" '
        f'stroke="#2563eb" stroke-width="2" points="{coords}"/></svg>'
        f"<div class=small>{low:.4g} … {high:.4g}</div>"
    )


def render_html(report: dict[str, Any]) -> str:
    e = html.escape
    rows = []
    drift = report.get("drift")
    if drift:
        for column in drift["columns"]:
            chart = (
                _bars(report["distributions"][column["column"]])
                if (column["column"] in report["distributions"])
                else ""
            )
            p_value = "" if column["p_value"] is None else f"{column['p_value']:.3g}"
            if column.get("p_adjusted") is not None:  # the verdict reads the adjusted one
                p_value += f" (BH {column['p_adjusted']:.3g})"
            rows.append(
                f"<tr class={'drift' if column['drifted'] else 'ok'}><td>{e(column['column'])}"
                f"</td><td>{e(column['method'])}</td><td>{column['statistic']:.4g}</td>"
                f"<td>{p_value}</td><td>{column['threshold']:g}</td>"
                f"<td>{'DRIFT' if column['drifted'] else 'ok'}</td><td>{chart}</td></tr>"
            )
    quality_rows = "".join(
        f"<tr><td>{e(q['group'])}</td><td>{q['rows']}</td><td>{q['labelled']}</td><td>"
        + ", ".join(f"{k}={v:.4f}" for k, v in q["metrics"].items())
        + "</td><td>"
        + ", ".join(f"{k}={v:.4f}" for k, v in q["estimated"].items())
        + "</td></tr>"
        for q in report["quality"]
    )
    hourly = report["hourly"]
    series = {}
    for key in ("accuracy", "f1", "roc_auc", "mae", "rmse"):
        points = [h["metrics"][key] for h in hourly if key in h["metrics"]]
        if points:
            series[key] = points
    estimated = [h["estimated"]["accuracy"] for h in hourly if "accuracy" in h["estimated"]]
    if estimated:
        series["estimated accuracy (CBPE)"] = estimated
    charts = "".join(
        f"<div class=card><h3>{e(k)} per hour</h3>{_line(v)}</div>" for k, v in series.items()
    )
    summary = (
        "no reference profile: register the model with reference_data=..."
        if not drift
        else f"{len(drift['drifted_columns'])} of {len(drift['columns'])} columns drifted "
        f"(share {drift['share']:.2f}; dataset drift "
        f"{'YES' if drift['drifted'] else 'no'})"
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Shipyard monitoring report: {e(report["deployment"])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#111}}
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:middle}}tr.drift td{{background:#fef2f2}}
.card{{display:inline-block;margin:0 1em 1em 0}}.small{{font-size:12px;color:#555}}
.legend span{{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}}</style>
</head><body>
<h1>Monitoring report: {e(report["deployment"])}</h1>
<p>{e(report["version"])} · {report["rows"]:,} logged rows · window
{e(str(report["window_s"] or "all"))} s · generated {e(report["generated_at"])}</p>
<h2>Drift</h2><p>{e(summary)}</p>
<p class=legend><span style="background:#9ca3af"></span>reference
<span style="background:#2563eb"></span>current</p>
<table><tr><th>column</th><th>method</th><th>statistic</th><th>p-value</th><th>threshold</th>
<th>verdict</th><th>distribution</th></tr>{"".join(rows)}</table>
<h2>Quality</h2>
<table><tr><th>group</th><th>rows</th><th>labelled</th><th>realized</th><th>estimated</th></tr>
{quality_rows}</table>
<h2>Over time</h2>{charts or "<p>No per-hour values yet.</p>"}
</body></html>"""
