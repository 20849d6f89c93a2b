"""Ids and limits past what the store holds are refused at the edge, on every back end.

They used to reach the driver: SQLite raised ``OverflowError`` (500) and
PostgreSQL a BIGINT range error.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings
from shipyard.server.app import create_app
from tests.conftest import bearer
from tests.pipelines.helpers import MONITOR, serve_champion

MAX_ID = 2**31 - 1  # ids are INTEGER columns: 32-bit on PostgreSQL


@pytest.fixture
def api(client: Client) -> Iterator[TestClient]:
    serve_champion(client)  # a deployment and the monitor clf-health
    with TestClient(
        create_app(ServerSettings(pipelines=False), client=client), headers=bearer(client)
    ) as http:
        yield http


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/rollouts/8851603543225360449536"),
        ("POST", "/api/rollouts/8851603543225360449536/pause"),
        ("GET", "/api/pipeline-runs/242923882053380996071424"),
        ("POST", "/api/pipeline-runs/242923882053380996071424/retry"),
        ("DELETE", "/api/webhooks/74370074736071535182741504"),
        ("GET", f"/api/monitors/{MONITOR}/results?limit=523798447750097797120"),
        ("GET", "/api/pipelines/retrain/runs?limit=11696120964897763586211840"),
        ("GET", f"/api/rollouts/{MAX_ID + 1}"),
        ("GET", "/api/rollouts/0"),
        ("GET", f"/api/monitors/{MONITOR}/results?limit=0"),
    ],
)
def test_out_of_range_ids_and_limits_answer_422(api: TestClient, method: str, path: str) -> None:
    response = api.request(method, path)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "InvalidRequest" and error["message"]


def test_the_largest_stored_id_is_a_plain_lookup(api: TestClient) -> None:
    for method, path in [
        ("GET", f"/api/rollouts/{MAX_ID}"),
        ("GET", f"/api/pipeline-runs/{MAX_ID}"),
        ("DELETE", f"/api/webhooks/{MAX_ID}"),
    ]:
        response = api.request(method, path)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["type"] == "NotFound"
    assert api.get(f"/api/monitors/{MONITOR}/results?limit=10000").status_code == 200


def test_huge_numbers_in_bodies_are_refused(api: TestClient) -> None:
    alias = api.put("/api/models/clf/aliases/champion", json={"version": 2**70})
    assert alias.status_code == 422 and "body.version" in alias.json()["error"]["message"]
    labels = [{"request_id": "r1", "label": 1, "row": 2**64}]
    feedback = api.post("/v1/deployments/clf/feedback", json=labels)
    assert feedback.status_code == 422, feedback.text
    version = api.get("/api/models/clf/versions/99999999999999999999999")
    assert version.status_code == 422, version.text
