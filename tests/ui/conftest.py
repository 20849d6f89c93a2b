"""A served workspace with a deployment mid-rollout, and helpers to sign in as a browser."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings, StoreSettings
from shipyard.deploy.rollouts import RolloutSpec
from shipyard.server.app import create_app
from shipyard.server.ui.sessions import COOKIE

#: A rollout that stays on its first step for the whole test module.
SLOW = RolloutSpec(to="cancer/2", steps=(10, 100), interval_s=3600, deadline_s=7200)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, fitted_pipeline, breast_cancer):
    X, _ = breast_cancer
    home: Path = tmp_path_factory.mktemp("ui") / "ws"
    client = Client(settings=StoreSettings(home=home, user="tester"))
    client.register_model(fitted_pipeline, name="cancer", sample_input=X[:20])
    client.register_model(fitted_pipeline, name="cancer", sample_input=X[:20])
    client.create_deployment("cancer", "cancer/1")
    yield client
    client.close()


@pytest.fixture(scope="module")
def http(workspace: Client) -> Iterator[TestClient]:
    app = create_app(ServerSettings(pipelines=False, poll_interval_s=0.05), client=workspace)
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def rollout(workspace: Client) -> str:
    """The deployment ``cancer`` with a running rollout (started again when a test ended one)."""
    latest = workspace.store.rollouts.latest_for("cancer")
    if latest is None or latest.status not in ("running", "paused"):
        workspace.start_rollout("cancer", SLOW)
    return "cancer"


def token_of(client: Client, role: str, http: TestClient) -> str:
    made = client.create_token(f"ui-{role}-{time.monotonic_ns()}", role)
    wait_until(
        lambda: (
            http.get("/version", headers={"authorization": f"Bearer {made.token}"}).status_code
            == 200
        )
    )
    return made.token


def sign_in(http: TestClient, token: str) -> dict[str, str]:
    """Sign in like a browser; the Cookie header to send from then on."""
    response = http.post("/ui/login", data={"token": token, "next": "/ui"})
    assert response.status_code == 303, response.text
    http.cookies.clear()
    return {"cookie": f"{COOKIE}={response.cookies[COOKIE]}"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def wait_until(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not within the poll interval"
        time.sleep(0.05)
