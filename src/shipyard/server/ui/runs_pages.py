"""The Runs pages: search with the CLI's filter syntax, sortable param and metric columns,
pages of 50 (LIMIT/OFFSET in the store's query), one run, and runs compared. Everything
is read through the Client, like ``shipyard runs list|show|compare``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from shipyard.entities import Run
from shipyard.errors import InvalidInput, ShipyardError
from shipyard.sdk.client import Client
from shipyard.server.ui.charts import Chart
from shipyard.server.ui.rendering import render, render_error, status_of
from shipyard.server.ui.runs_query import PAGE_SIZE, SORTABLE, RunQuery, quote
from shipyard.server.ui.shared_axis import add_together
from shipyard.server.ui.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False)

#: Metric charts on a run's page unless others are chosen.
DEFAULT_CHARTS = 6
#: Runs one comparison may hold (each brings its curve of the chosen metric).
MAX_COMPARE = 20


@router.get("/ui/runs")
def runs_page(request: Request) -> Response:
    """Runs matching a filter, a page at a time, with the chosen param and metric columns."""
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    experiments = client.list_experiments()
    try:
        query = RunQuery.parse(request.query_params)
    except ShipyardError as error:  # keep what was typed in the search box
        typed = RunQuery(filter=request.query_params.get("filter", ""))
        return _list(request, viewer, typed, experiments, error=error)
    return _list(request, viewer, query, experiments)


def _list(
    request: Request,
    viewer: Viewer,
    query: RunQuery,
    experiments: list[Any],
    *,
    error: ShipyardError | None = None,
) -> Response:
    client: Client = request.app.state.client
    runs: list[Run] = []
    if error is None:
        try:
            runs = client.search_runs(
                list(query.experiments) or None,
                query.filter or None,
                query.order_by,
                PAGE_SIZE + 1,
                query.offset,
            )
        except ShipyardError as failed:
            error = failed
    keys = client.run_keys(list(query.experiments) or None) if error is None else None
    params, metrics = query.columns(keys.params, keys.metrics) if keys else ([], [])
    context = {
        "query": query,
        "runs": runs[:PAGE_SIZE],
        "has_next": len(runs) > PAGE_SIZE,
        "first": query.offset + 1,
        "experiments": [e.name for e in experiments],
        "keys": keys,
        "params": params,
        "metrics": metrics,
        "sortable": SORTABLE,
        "error": str(error) if error is not None else "",
        "cli": query.cli(),
    }
    status = status_of(error) if error is not None else 200
    return render(request, viewer, "runs.html", context, status=status)


@router.get("/ui/runs/compare")
def compare_page(request: Request) -> Response:
    """Runs side by side: params (those that differ marked), latest metrics, and one
    metric's curve per run on one chart."""
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    try:
        ids = _run_ids(request.query_params.getlist("ids"))
        comparison = client.compare_runs(ids)
        metric = request.query_params.get("metric") or next(iter(comparison.metrics), "")
        if metric and metric not in comparison.metrics:
            raise InvalidInput(
                f"none of these runs logged the metric {metric!r}; "
                f"choose one of {sorted(comparison.metrics)}"
            )
        curves = []
        for run in comparison.runs if metric else []:
            points = client.get_metric_history(run.id, metric)
            if points:
                curves.append((_label(run), [p.step for p in points], [p.value for p in points]))
        chart = Chart(id="compare-chart", title=f"{metric} per run", y=metric)
        add_together(chart, curves)
    except ShipyardError as error:
        return render_error(request, viewer, error)
    only_diff = request.query_params.get("only") == "diff"
    params = [
        {"key": key, "cells": values, "differs": len(set(values)) > 1}
        for key, values in comparison.params.items()
    ]
    context = {
        "runs": comparison.runs,
        "labels": [_label(r) for r in comparison.runs],
        "params": [p for p in params if p["differs"]] if only_diff else params,
        "differing": sum(1 for p in params if p["differs"]),
        "only_diff": only_diff,
        "metrics": comparison.metrics,
        "metric": metric,
        "chart": chart,
        "ids": ",".join(ids),
        "cli": "shipyard runs compare " + " ".join(ids),
    }
    return render(request, viewer, "runs_compare.html", context)


def _run_ids(values: list[str]) -> list[str]:
    """``ids=a,b,c`` or ``ids=a&ids=b`` (the list page's checkboxes), each once, in order."""
    ids = list(dict.fromkeys(i.strip() for v in values for i in v.split(",") if i.strip()))
    if not ids:
        raise InvalidInput("choose at least one run to compare: /ui/runs/compare?ids=RUN,RUN")
    if len(ids) > MAX_COMPARE:
        raise InvalidInput(f"compare at most {MAX_COMPARE} runs at once, got {len(ids)}")
    return ids


def _label(run: Run) -> str:
    return f"{run.name} ({run.id[:8]})"


@router.get("/ui/runs/{run_id}")
def run_page(request: Request, run_id: str) -> Response:
    """One run: params, latest metrics, tags, artifacts, inputs, models registered from it,
    and the curves of the chosen metrics."""
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    try:
        run = client.get_run(run_id)
        chosen = request.query_params.getlist("metric")
        keys = [k for k in dict.fromkeys(chosen) if k in run.metrics] if chosen else []
        if chosen and not keys:
            raise InvalidInput(f"run {run_id} logged none of the metrics {chosen}")
        charted = keys or list(run.metrics)[:DEFAULT_CHARTS]
        charts = []
        for index, key in enumerate(charted):
            points = client.get_metric_history(run.id, key)
            chart = Chart(id=f"metric-{index}", title=key, y=key)
            charts.append(chart.add(key, [p.step for p in points], [p.value for p in points]))
        versions = [
            v
            for v in client.run_model_versions(run.id)
            if viewer.can("GET", "/api/models/{name}", name=v.name)
        ]
    except ShipyardError as error:
        return render_error(request, viewer, error)
    context = {
        "run": run,
        "charts": charts,
        "charted": charted,
        "versions": versions,
        "live": run.status == "RUNNING",
        "cli": f"shipyard runs show {quote(run.id)}",
    }
    return render(request, viewer, "run.html", context)
