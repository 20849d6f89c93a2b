"""The control API's pipeline routes, served by the real app (whose executor runs them)."""

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
from tests.pipelines.helpers import DATASET, MODEL, make_data, serve_champion, write_pipeline


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Client]]:
    client = Client(settings=StoreSettings(home=tmp_path / "ws", user="server"))
    serve_champion(client)
    client.add_dataset(DATASET, make_data(seed=1))
    client.register_pipeline("retrain", str(write_pipeline(tmp_path, approval=True)))
    settings = ServerSettings(poll_interval_s=0.05, pipeline_tick_s=0.05, controller_tick_s=0.05)
    with TestClient(create_app(settings, client=client), headers=bearer(client)) as http:
        yield http, client
    client.close()


def _wait_for(http: TestClient, run_id: int, status: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = http.get(f"/api/pipeline-runs/{run_id}").json()
        if run["status"] == status:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} is {run['status']}, not {status}: {run['error']}")


def test_a_run_queued_over_http_executes_in_the_server_and_waits_for_approval(
    api: tuple[TestClient, Client],
) -> None:
    http, client = api
    [listed] = http.get("/api/pipelines").json()
    assert listed["name"] == "retrain" and listed["triggers"] == []
    started = http.post("/api/pipelines/retrain/runs", json={"params": {"seed": 4}})
    assert started.status_code == 202 and started.json()["status"] == "queued"
    run_id = started.json()["id"]
    waiting = _wait_for(http, run_id, "awaiting_approval")
    assert waiting["params"]["seed"] == 4 and waiting["waiting"] == {"step": "deploy"}
    client.add_user("alice", "deployer")
    alice = client.create_token("alice-laptop", "deployer", user="alice")
    deadline = time.monotonic() + 5  # the server picks up new tokens within a poll interval
    while (
        http.get("/api/pipelines", headers={"authorization": f"Bearer {alice.token}"}).status_code
        == 401
    ):
        assert time.monotonic() < deadline, "the server never accepted the new token"
        time.sleep(0.05)
    approved = http.post(
        f"/api/pipeline-runs/{run_id}/approve",
        json={"comment": "ship it"},
        headers={"authorization": f"Bearer {alice.token}"},
    )
    assert approved.status_code == 200
    # the approver is who the token says, not what a header claims
    assert approved.json()["params"]["_approval"]["by"] == "alice (token alice-laptop)"
    deploying = _wait_for(http, run_id, "deploying")
    assert client.rollout(MODEL).id == deploying["waiting"]["rollout"]
    assert [r["id"] for r in http.get("/api/pipelines/retrain/runs").json()] == [run_id]


def test_bad_pipeline_requests_are_refused(api: tuple[TestClient, Client]) -> None:
    http, _ = api
    assert http.post("/api/pipelines/nope/runs").status_code == 404
    unknown = http.post("/api/pipelines/retrain/runs", json={"params": {"sed": 1}})
    assert unknown.status_code == 400 and "unknown pipeline parameter" in unknown.text
    assert http.post("/api/pipeline-runs/999/approve").status_code == 404
    assert http.post("/api/pipeline-runs/1/explode").status_code == 422
