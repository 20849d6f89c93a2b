"""The quickstart's dashboard step: sign in to ``/ui`` as a browser would and open every page.

A viewer token (made here, valid one hour) is exchanged at the sign-in form for a session
cookie; each page of the loop the quickstart just ran is then rendered by a real server over
HTTP, and the rollout page is checked to show a viewer no buttons. Users then open the same
pages with ``shipyard serve`` and a browser.
"""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import dataclass

import httpx

from shipyard.config import ServerSettings
from shipyard.errors import ShipyardError
from shipyard.sdk.client import Client
from shipyard.server.app import create_app
from shipyard.server.background import running_server


@dataclass(frozen=True)
class DashboardSummary:
    pages: list[str]
    median_ms: float
    slowest_ms: float
    viewer_buttons: int


def tour_dashboard(client: Client, deployment: str, model: str) -> DashboardSummary:
    """Sign in with a viewer token and render each page; every one must answer 200."""
    token = client.create_token(
        f"quickstart-dashboard-{uuid.uuid4().hex[:6]}", "viewer", expires_in_s=3600
    )
    latest_run = client.search_runs(max_results=1)
    pipeline_runs = client.pipeline_runs(limit=1)
    pages = [
        "/ui",
        "/ui/runs",
        *(f"/ui/runs/{run.id}" for run in latest_run),
        "/ui/models",
        f"/ui/models/{model}",
        f"/ui/models/{model}/versions/latest",
        f"/ui/deployments/{deployment}",
        f"/ui/rollouts/{deployment}",
        "/ui/monitoring",
        f"/ui/monitoring/{deployment}",
        "/ui/datasets",
        "/ui/pipelines",
        *(f"/ui/pipelines/runs/{run.id}" for run in pipeline_runs),
    ]
    timings: dict[str, float] = {}
    buttons = 0
    with (
        running_server(create_app(ServerSettings(), client=client)) as url,
        httpx.Client(base_url=url, timeout=30, follow_redirects=False) as browser,
    ):
        _sign_in(browser, token.token)
        for path in pages:
            started = time.perf_counter()
            page = browser.get(path)
            timings[path] = (time.perf_counter() - started) * 1000
            if page.status_code != 200:
                raise ShipyardError(f"dashboard page {path} answered {page.status_code}")
            if path.startswith("/ui/rollouts/"):
                buttons = page.text.count('class="action-')
    client.revoke_token(token.record.name)
    values = list(timings.values())
    return DashboardSummary(pages, statistics.median(values), max(values), buttons)


def _sign_in(browser: httpx.Client, token: str) -> None:
    """The sign-in form; a new token reaches the access table within one refresh."""
    deadline = time.monotonic() + 10
    while True:
        answer = browser.post("/ui/login", data={"token": token, "next": "/ui"})
        if answer.status_code == 303:
            return
        if time.monotonic() > deadline:
            raise ShipyardError(f"dashboard sign-in failed: {answer.status_code}")
        time.sleep(0.1)
