"""An in-process server with auth on, and helpers to call the MLflow API like its client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings, StoreSettings
from shipyard.server.app import create_app
from tests.conftest import bearer

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


def wait_until_known(http: TestClient, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 5
    while http.get("/version", headers=headers).status_code == 401:
        assert time.monotonic() < deadline, "token not known within the poll interval"
        time.sleep(0.05)


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Client]:
    with Client(settings=StoreSettings(home=tmp_path / "ws", user="tester")) as client:
        yield client


def serve(workspace: Client, **settings: object) -> TestClient:
    app = create_app(
        ServerSettings(pipelines=False, poll_interval_s=0.05, **settings),  # type: ignore[arg-type]
        client=workspace,
    )
    return TestClient(app)


@pytest.fixture
def http(workspace: Client) -> Iterator[TestClient]:
    with serve(workspace) as test_client:
        headers = bearer(workspace, "admin")
        test_client.headers.update(headers)
        wait_until_known(test_client, headers)
        yield test_client
