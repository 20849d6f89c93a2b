"""The dashboard's pages: each reads through the Client (the same operations the control
API and the CLI use) and renders one template. Refusals are the auth layer's; a page
only decides which buttons to show, with ``Viewer.can``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from shipyard.deploy.policy import policy_from_dict, ref_label
from shipyard.deploy.rollouts import RolloutSpec
from shipyard.errors import NotFound, ShipyardError
from shipyard.sdk.client import Client
from shipyard.server.ui.deployment_history import history_context
from shipyard.server.ui.rendering import render, render_error
from shipyard.server.ui.serving_stats import ServingStats
from shipyard.server.ui.static import serve_static
from shipyard.server.ui.viewer import viewer_of

router = APIRouter(include_in_schema=False)

ACTIVE_ROLLOUTS = ("running", "paused")
ROLLOUT_ACTIONS = ("promote", "pause", "resume", "abort")


def traffic(policy: dict[str, Any]) -> str:
    """A policy in one line: ``canary: cancer/1 90%, cancer/2 10%``."""
    try:
        parsed = policy_from_dict(policy)
    except (ShipyardError, KeyError, TypeError, ValueError):
        return str(policy.get("kind", "unknown"))
    arms = getattr(parsed, "arms", None)
    if arms is not None:
        split = ", ".join(f"{ref_label(a.target)} {a.weight:g}%" for a in arms)
        return f"{policy['kind']}: {split}"
    targets = ", ".join(ref_label(t) for t in parsed.targets)
    return f"{policy['kind']}: {targets}"


@router.get("/")
def root() -> Response:
    return RedirectResponse("/ui", status_code=303)


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it on every page that names none (the API's JSON answers too)."""
    return RedirectResponse("/ui/static/favicon.svg", status_code=308)


@router.get("/ui/static/{path:path}")
def static(request: Request, path: str) -> Response:
    try:
        return serve_static(request.app.state.ui_static, path)
    except NotFound as error:
        return render_error(request, None, error)


@router.get("/ui")
def overview(request: Request) -> Response:
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    stats: ServingStats = request.app.state.ui_stats
    measured = stats.read()
    deployments = [
        {
            "name": d.name,
            "health": _health(request, d.name),
            "traffic": traffic(d.policy),
            "stats": measured.get(d.name),
        }
        for d in client.list_deployments()
    ]
    rollouts = [r for r in client.store.rollouts.history(None) if r.status in ACTIVE_ROLLOUTS]
    context = {
        "deployments": deployments,
        "workers": request.app.state.ui_workers,
        "alerts": client.alerts(open_only=True),
        "rollouts": rollouts,
        "pipeline_runs": client.pipeline_runs(limit=20),
        "batch_jobs": client.batch_jobs(limit=20),
        "consumers": _consumers(client),
        "cli": "shipyard deployments list",
    }
    return render(request, viewer, "overview.html", context)


@router.get("/ui/deployments/{name}")
def deployment_page(request: Request, name: str) -> Response:
    """One deployment: policy, serving settings, health, traffic by version, rollouts."""
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    try:
        deployment = client.get_deployment(name)
    except ShipyardError as error:
        return render_error(request, viewer, error)
    stats: ServingStats = request.app.state.ui_stats
    context = {
        "deployment": deployment,
        "health": _health(request, name),
        "traffic": traffic(deployment.policy),
        "stats": stats.read().get(name),
        "versions": stats.by_version(name),
        "rollouts": client.store.rollouts.history(name)[-20:][::-1],
        "workers": request.app.state.ui_workers,
        "cli": f"shipyard deployments show {name}",
    }
    route = request.app.state.dataplane.routing.routes.get(name)
    models = {m.key for m in route.models} if route is not None else set()
    context["batches"] = stats.batch_sizes(models)
    # The latest rows are logged inputs and outputs: shown to whoever may read predictions
    # (the permission of the deployment's monitoring page and of /api/.../drift).
    context |= history_context(
        client,
        request.app.state.ui_predlog,
        request.app.state.ui_histories,
        name,
        predictions_visible=viewer.can("GET", "/ui/monitoring/{deployment}", deployment=name),
    )
    return render(request, viewer, "deployment.html", context)


#: A consumer reports with its gauges (every 5 s by default); three missed reports: silent.
CONSUMER_SILENT_MS = 30_000


def _consumers(client: Client) -> list[dict[str, Any]]:
    """Stream consumers seen in the last day, each with its state in words."""
    now = int(time.time() * 1000)
    return [
        {"record": c, "state": c.state(now, CONSUMER_SILENT_MS)}
        for c in client.stream_consumers(limit=50)
    ]


def _health(request: Request, name: str) -> str:
    dataplane = request.app.state.dataplane
    if name in dataplane.routing.failures:
        return "failed"
    return "ready" if name in set(dataplane.deployments()) else "not loaded"


@router.get("/ui/rollouts/{deployment}")
def rollout_page(request: Request, deployment: str) -> Response:
    """The deployment's latest rollout: its steps, events and each check's measurement."""
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    try:
        record = client.rollout(deployment)
    except ShipyardError as error:
        return render_error(request, viewer, error)
    spec = RolloutSpec.from_dict(record.spec)
    active = record.status in ACTIVE_ROLLOUTS
    checks = client.rollout_checks(deployment) if active else []
    events = client.rollout_events(record.id)
    steps = [
        {
            "weight": weight,
            "state": "done"
            if index < record.step_index or record.status == "promoted"
            else "current"
            if index == record.step_index and active
            else "pending",
        }
        for index, weight in enumerate(spec.steps)
    ]
    allowed = {
        action: viewer.can("POST", "/ui/rollouts/{deployment}/{action}", deployment=deployment)
        for action in ROLLOUT_ACTIONS
    }
    buttons = [a for a in _possible(record.status) if allowed[a]]
    context = {
        "rollout": record,
        "spec": spec,
        "steps": steps,
        "checks": checks,
        "events": list(reversed(events)),
        "buttons": buttons,
        "cli": f"shipyard rollout status {deployment}",
    }
    return render(request, viewer, "rollout.html", context)


def _possible(status: str) -> list[str]:
    """The actions the rollout's state allows (the server refuses the rest with 409)."""
    if status == "running":
        return ["promote", "pause", "abort"]
    if status == "paused":
        return ["promote", "resume", "abort"]
    return []
