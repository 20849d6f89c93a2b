"""Every dashboard page renders as plain HTML (no JavaScript needed), with its CLI twin."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shipyard import Client
from tests.ui.conftest import sign_in, token_of


def test_every_page_renders_readable_html_without_javascript(
    http: TestClient, workspace: Client, rollout: str, breast_cancer
) -> None:
    X, _ = breast_cancer
    admin = {"authorization": f"Bearer {token_of(workspace, 'admin', http)}"}
    rows = X[:3].to_dict(orient="records")
    assert (
        http.post(
            "/v1/deployments/cancer/predict", json={"inputs": rows}, headers=admin
        ).status_code
        == 200
    )
    cookie = sign_in(http, token_of(workspace, "viewer", http))
    overview = http.get("/ui", headers=cookie)
    assert overview.status_code == 200
    assert overview.headers["content-type"].startswith("text/html")
    text = overview.text
    assert "<table>" in text and ">cancer</a>" in text  # the deployments table, in the HTML
    assert "canary: cancer/1 90%, cancer/2 10%" in text  # the rollout's first step
    assert "ready" in text  # health, as a word
    assert "shipyard deployments list" in text  # the CLI twin in the footer
    assert "v1 → v2" in text  # the running rollout
    page = http.get(f"/ui/rollouts/{rollout}", headers=cookie)
    assert page.status_code == 200
    assert "shipyard rollout status cancer" in page.text
    assert "Checks of the current step" in page.text and "(min " in page.text
    assert "10% to v2" in page.text and "current" in page.text
    deployment = http.get("/ui/deployments/cancer", headers=cookie)
    assert deployment.status_code == 200
    assert "shipyard deployments show cancer" in deployment.text
    assert "Requests by version" in deployment.text and "v1 → v2" in deployment.text
    for path in ("/ui/rollouts/nope", "/ui/deployments/nope"):
        missing = http.get(path, headers=cookie)
        assert missing.status_code == 404 and "does not exist" in missing.text


def test_overview_counts_the_requests_this_process_served(
    http: TestClient, workspace: Client, breast_cancer
) -> None:
    X, _ = breast_cancer
    admin = {"authorization": f"Bearer {token_of(workspace, 'admin', http)}"}
    before = _requests_shown(http.get("/ui", headers=admin).text)
    rows = X[:1].to_dict(orient="records")
    for _ in range(3):
        http.post("/v1/deployments/cancer/predict", json={"inputs": rows}, headers=admin)
    assert _requests_shown(http.get("/ui", headers=admin).text) == before + 3


def _requests_shown(html: str) -> int:
    row = html.split(">cancer</a>", 1)[1].split("</tr>", 1)[0]
    cells = [c.split("</td>")[0] for c in row.split("<td>")[1:]]
    return int(cells[2])  # health, traffic, requests


def test_static_files_are_the_vendored_ones_and_nothing_else(http: TestClient) -> None:
    uplot = http.get("/ui/static/vendor/uPlot-1.6.32.iife.min.js")
    assert uplot.status_code == 200
    assert uplot.headers["content-type"].startswith("text/javascript")
    assert http.get("/ui/static/live.js").status_code == 200
    assert http.get("/ui/static/app.css").status_code == 200
    for path in ("nope.js", "..%2Fsessions.py", "vendor/README", "vendor/../../sessions.py"):
        assert http.get(f"/ui/static/{path}").status_code in (303, 404), path


def test_the_dashboard_is_not_in_the_api_schema(http: TestClient, workspace: Client) -> None:
    admin = {"authorization": f"Bearer {token_of(workspace, 'admin', http)}"}
    paths = http.get("/openapi.json", headers=admin).json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/ui")]


def test_favicon_is_served_to_anyone(http) -> None:
    moved = http.get("/favicon.ico")
    assert moved.status_code == 308 and moved.headers["location"] == "/ui/static/favicon.svg"
    icon = http.get("/ui/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_overview_lists_stream_consumers_with_their_state(http, workspace) -> None:
    from shipyard.store.stream_store import ConsumerReport

    report = ConsumerReport("scores", "g", "c-7", "cancer", "redis://h:6379/0", 41, 2, 5, 1)
    workspace.store.stream_consumers.report(report, started=True)
    cookie = sign_in(http, token_of(workspace, "viewer", http))
    page = http.get("/ui", headers=cookie)
    assert page.status_code == 200
    assert "Stream consumers" in page.text
    row = page.text.split("c-7", 1)[1].split("</tr>", 1)[0]
    assert "scores / g" in row and ">running<" in row and "<td>41</td>" in row
    workspace.store.stream_consumers.report(report, stopped=True)
    assert (
        ">stopped<" in http.get("/ui", headers=cookie).text.split("c-7", 1)[1].split("</tr>", 1)[0]
    )
