"""The Model pages: registered models, one model (versions, aliases, metrics across
versions, lineage), and one version (card, signature, run, optimization reports,
importance). Everything is read through the Client, a page of versions at a time."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.responses import Response

from shipyard.entities import ModelVersion
from shipyard.errors import NotFound, ShipyardError
from shipyard.registry.service import DERIVED_FROM_TAG, OPTIMIZE_TAG
from shipyard.sdk.client import Client
from shipyard.server.ui.charts import Chart
from shipyard.server.ui.listing import fetch_page, page_number
from shipyard.server.ui.rendering import render, render_error
from shipyard.server.ui.viewer import viewer_of

router = APIRouter(include_in_schema=False)

MODELS_PER_PAGE = 50
VERSIONS_PER_PAGE = 20
ALIAS_CHANGES = 50
MAX_METRICS = 12  # series in the chart across versions (the table lists them all)
IMPORTANCE_TAG = "shipyard.importance"  # explain.importance's tag (not imported: it loads shap)
HIDDEN_TAGS = (OPTIMIZE_TAG, IMPORTANCE_TAG)  # shown as their own sections

_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


@router.get("/ui/models")
def models_page(request: Request, page: str | None = None) -> Response:
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    try:
        number = page_number(page)
        listing = fetch_page(
            lambda limit, offset: client.list_models(limit=limit, offset=offset),
            number,
            MODELS_PER_PAGE,
        )
    except ShipyardError as error:
        return render_error(request, viewer, error)
    context = {"models": listing, "cli": "shipyard models list"}
    return render(request, viewer, "models.html", context)


@router.get("/ui/models/{name}")
def model_page(request: Request, name: str, page: str | None = None) -> Response:
    """A model: its versions (newest first, paged), aliases and their history, tags,
    metrics across versions, and the lineage and details of its champion (else latest)."""
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    try:
        number = page_number(page)
        model = client.get_model(name)
        versions = fetch_page(
            lambda limit, offset: client.list_model_versions(
                name, limit=limit, offset=offset, newest_first=True
            ),
            number,
            VERSIONS_PER_PAGE,
        )
        focus = _focus(client, model.aliases, model.latest_version, name)
        history = client.alias_history(name, limit=ALIAS_CHANGES)[::-1]
        chart = metrics_chart(client.version_metrics(name))
        details = version_details(client, focus) if focus is not None else None
    except ShipyardError as error:
        return render_error(request, viewer, error)
    context = {
        "model": model,
        "versions": versions,
        "optimized": [_optimization(v) for v in versions.rows if OPTIMIZE_TAG in v.tags],
        "history": history,
        "across": chart,
        "focus": details,
        "cli": f"shipyard models show {name}",
    }
    return render(request, viewer, "model.html", context)


@router.get("/ui/models/{name}/versions/{version}")
def version_page(request: Request, name: str, version: str) -> Response:
    """One version in full: card, signature, source run, reports, importance, lineage."""
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    try:
        found = client.get_model_version(name, version)
        details = version_details(client, found)
    except ShipyardError as error:
        return render_error(request, viewer, error)
    context = {
        "details": details,
        "cli": f"shipyard models show {name} --version {found.version}",
    }
    return render(request, viewer, "model_version.html", context)


def _focus(client: Client, aliases: dict[str, int], latest: int, name: str) -> ModelVersion | None:
    """The version a model page details: its champion, else its newest version."""
    if "champion" in aliases:
        return client.get_model_version(name, aliases["champion"])
    if latest == 0:
        return None
    try:
        return client.get_model_version(name, "latest")
    except NotFound:
        return None


def metrics_chart(rows: list[tuple[int, dict[str, float]]]) -> Chart:
    """Each registered metric against the version number (a gap where a version lacks it)."""
    chart = Chart(id="metrics-by-version", title="Metrics across versions", xlabel="version")
    keys = sorted({k for _, metrics in rows for k in metrics})[:MAX_METRICS]
    for key in keys:
        points = [(v, m[key]) for v, m in rows if isinstance(m.get(key), int | float)]
        chart.add(key, [float(v) for v, _ in points], [float(y) for _, y in points])
    return chart


@dataclass
class VersionDetails:
    """What the version view shows, gathered through the Client."""

    version: ModelVersion
    card: Markup
    run: Any | None  # the source Run, when it still exists
    tags: list[tuple[str, str]]
    optimization: dict[str, Any] | None
    importance: list[tuple[str, float, float]] = field(default_factory=list)  # name, value, share
    importance_about: Any | None = None
    lineage: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    derived_from: str | None = None


def version_details(client: Client, version: ModelVersion) -> VersionDetails:
    run = None
    if version.run_id:
        try:
            run = client.get_run(version.run_id)
        except NotFound:
            run = None
    importance = client.importance(version.name, version.version)
    ranked: list[tuple[str, float, float]] = []
    if importance is not None:
        pairs = importance.ranked()
        top = pairs[0][1] if pairs and pairs[0][1] > 0 else 1.0
        ranked = [(column, value, value / top) for column, value in pairs]
    card = client.model_card(version.name, version.version)
    return VersionDetails(
        version=version,
        card=render_card(card, under=3),
        run=run,
        tags=sorted((k, v) for k, v in version.tags.items() if k not in HIDDEN_TAGS),
        optimization=_optimization(version) if OPTIMIZE_TAG in version.tags else None,
        importance=ranked,
        importance_about=importance,
        lineage=lineage_flow(client.lineage(version.uri).to_dict()),
        derived_from=version.tags.get(DERIVED_FROM_TAG),
    )


def render_card(markdown: str, *, under: int) -> Markup:
    """A model card's Markdown as HTML inside a page: raw HTML in it is escaped (html off)
    and its headings start at ``h{under}``, so the page keeps its one <h1> and its outline."""
    tokens = _markdown.parse(markdown)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1:]) + under - 1)}"
    return Markup(_markdown.renderer.render(tokens, _markdown.options, {}))


def _optimization(version: ModelVersion) -> dict[str, Any]:
    try:
        report = json.loads(version.tags[OPTIMIZE_TAG])
    except (KeyError, ValueError):
        return {"version": version.version, "unreadable": True}
    return {**report, "version": version.version, "unreadable": False}


STAGES = ("dataset", "run", "model", "deployment")


def lineage_flow(root: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The lineage tree (``Client.lineage``, of a version or of a dataset version) as four
    stages left to right: datasets → runs → versions → deployments (rollouts and logged
    predictions join the deployment stage; versions derived from or into a version join
    the version stage, without their own lineage)."""
    flow: dict[str, list[dict[str, str]]] = {stage: [] for stage in STAGES}

    def visit(node: dict[str, Any], parent: str | None) -> None:
        kind = node["kind"]
        stage = kind if kind in STAGES else "deployment"
        item = {"kind": kind, "id": node["id"], "detail": node["detail"], "href": _href(node)}
        if item not in flow[stage]:
            flow[stage].append(item)
        if kind == "model" and parent == "model":
            return  # a version derived from or into this one: its own lineage is on its page
        for child in node["children"]:
            visit(child, kind)

    visit(root, None)
    return flow


def _href(node: dict[str, Any]) -> str:
    kind, ident = node["kind"], node["id"]
    if kind == "run":
        return f"/ui/runs/{ident}"
    if kind == "deployment":
        return f"/ui/deployments/{ident}"
    if kind == "predictions":
        return f"/ui/deployments/{ident}"
    if kind == "rollout":
        deployment = node["detail"].split(" in ", 1)[-1].split(":", 1)[0]
        return f"/ui/rollouts/{deployment}"
    if kind == "model" and ident.startswith("models:/"):
        name, _, version = ident.removeprefix("models:/").partition("/")
        return f"/ui/models/{name}/versions/{version}"
    if kind == "dataset" and ident.startswith("datasets:/"):
        name, _, version = ident.removeprefix("datasets:/").partition("/")
        return f"/ui/datasets/{name}?version={version}"
    return ""
