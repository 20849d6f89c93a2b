"""The Datasets pages: every dataset's newest version, and one dataset (its versions,
the schema and profile of one version, the diff between two, its expectations and, on
request, the validation of a version against them). Read through the Client."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from fastapi import APIRouter, Request
from starlette.responses import Response

from shipyard.errors import InvalidInput, ShipyardError
from shipyard.sdk.client import Client
from shipyard.server.ui.charts import Chart
from shipyard.server.ui.listing import fetch_page, page_number
from shipyard.server.ui.models_pages import lineage_flow
from shipyard.server.ui.rendering import render, render_error
from shipyard.server.ui.viewer import viewer_of

router = APIRouter(include_in_schema=False)

DATASETS_PER_PAGE = 50
VERSIONS_PER_PAGE = 20
TOP_LEVELS = 5  # most frequent levels shown per categorical column
_DIFF = re.compile(r"^(\d{1,9})\.\.(\d{1,9})$")


@router.get("/ui/datasets")
def datasets_page(request: Request, page: str | None = None) -> Response:
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    try:
        number = page_number(page)
        listing = fetch_page(
            lambda limit, offset: client.latest_datasets(limit=limit, offset=offset),
            number,
            DATASETS_PER_PAGE,
        )
    except ShipyardError as error:
        return render_error(request, viewer, error)
    return render(
        request, viewer, "datasets.html", {"datasets": listing, "cli": "shipyard datasets list"}
    )


@router.get("/ui/datasets/{name}")
def dataset_page(
    request: Request,
    name: str,
    version: str | None = None,
    diff: str | None = None,
    validate: str | None = None,
    column: str | None = None,
    lineage: str | None = None,
    page: str | None = None,
) -> Response:
    """One dataset: versions (newest first, paged); one version's schema and profile (the
    newest unless ``?version=N``); the diff ``?diff=A..B`` (default: from the version
    before) with one numeric column's percentiles in both (``?column=``, default: the most
    shifted); expectations; ``?validate=1`` checks the version against them;
    ``?lineage=1`` shows what was built from it."""
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    try:
        number = page_number(page)
        record = client.get_dataset(name, _version(version))
        versions = fetch_page(
            lambda limit, offset: client.list_datasets(
                name, limit=limit, offset=offset, newest_first=True
            ),
            number,
            VERSIONS_PER_PAGE,
        )
        pair = _pair(diff, record.version)
        changes = client.diff_datasets(name, *pair) if pair else None
        shown = record.version
        own = client.dataset_profile(name, shown)
        quantiles = None
        if pair is not None and changes is not None:
            profiles = {v: own if v == shown else client.dataset_profile(name, v) for v in pair}
            quantiles = quantile_chart(pair, profiles, changes, column)
        expectations = client.expectations(name)
        report = None
        if validate:
            frame = client.load_dataset(record.uri)
            report = client.validate_dataset(name, frame)
        profile = profile_rows(own)
        built = lineage_flow(client.lineage(record.uri).to_dict()) if lineage else None
    except ShipyardError as error:
        return render_error(request, viewer, error)
    cli = f"shipyard datasets show {name} --version {record.version}"
    if lineage:
        cli = f"shipyard lineage {record.uri}"
    elif validate:
        cli = f"shipyard datasets validate {name} FILE"
    elif pair and diff:
        cli = f"shipyard datasets diff {name} {pair[0]} {pair[1]}"
    context = {
        "record": record,
        "versions": versions,
        "pair": pair,
        "changes": changes,
        "expectations": yaml.safe_dump(expectations, sort_keys=False),
        "report": report,
        "quantiles": quantiles,
        "built": built,
        "profile": profile,
        "cli": cli,
    }
    return render(request, viewer, "dataset.html", context)


def _version(raw: str | None) -> int | None:
    if raw is None or raw in ("", "latest"):
        return None
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
        raise InvalidInput(f"version must be a positive whole number or 'latest', got {raw!r}")
    return int(raw)


def _pair(raw: str | None, version: int) -> tuple[int, int] | None:
    """``A..B`` from the query, else the version before → this one (None for v1)."""
    if raw:
        match = _DIFF.match(raw)
        if match is None:
            raise InvalidInput(f"diff must look like 1..3 (two version numbers), got {raw!r}")
        return int(match.group(1)), int(match.group(2))
    return (version - 1, version) if version > 1 else None


def profile_rows(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per profiled column: the numbers' spread, or the most frequent levels."""
    rows = []
    for column, p in profile.get("columns", {}).items():
        row: dict[str, Any] = {
            "column": column,
            "kind": p.get("kind", "-"),
            "nulls": p.get("nulls"),
        }
        if p.get("kind") == "numeric":
            quantiles = p.get("quantiles") or []
            row.update(
                mean=p.get("mean"),
                std=p.get("std"),
                minimum=p.get("minimum"),
                median=quantiles[len(quantiles) // 2] if quantiles else None,
                maximum=p.get("maximum"),
            )
        else:
            frequencies = p.get("frequencies", {})
            total = sum(frequencies.values()) or 1
            top = sorted(frequencies.items(), key=lambda kv: -kv[1])[:TOP_LEVELS]
            row.update(
                levels=len(frequencies),
                top=[(level, count, count / total) for level, count in top],
            )
        rows.append(row)
    return rows


@dataclass
class QuantileView:
    """One numeric column's percentiles in two versions, and the columns one may pick."""

    column: str
    columns: list[str]
    chart: Chart


def quantile_chart(
    pair: tuple[int, int],
    profiles: dict[int, dict[str, Any]],
    changes: dict[str, Any],
    column: str | None,
) -> QuantileView | None:
    """The value at each percentile of ``column`` (default: the numeric column that shifted
    most) in both versions: where the two curves part is what changed."""
    old, new = (profiles[v].get("columns", {}) for v in pair)
    numeric = sorted(
        c
        for c in old.keys() & new.keys()
        if old[c].get("kind") == new[c].get("kind") == "numeric"
        and old[c].get("quantiles")
        and new[c].get("quantiles")
    )
    if column:
        if column not in numeric:
            raise InvalidInput(
                f"column {column!r} is not a numeric column of both v{pair[0]} and v{pair[1]}"
            )
    elif numeric:
        shift = changes.get("distribution_shift", {})
        column = max(numeric, key=lambda c: (shift.get(c, {}).get("distance") or 0.0, c))
    else:
        return None
    chart = Chart(
        id="quantiles",
        title=f"{column}: the value at each percentile, v{pair[0]} and v{pair[1]}",
        xlabel="percentile",
    )
    for version, columns in zip(pair, (old, new), strict=True):
        values = [float(v) for v in columns[column]["quantiles"]]
        step = 100 / max(1, len(values) - 1)
        chart.add(f"v{version}", [round(i * step, 6) for i in range(len(values))], values)
    return QuantileView(column, numeric, chart)
