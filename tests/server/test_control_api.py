"""The control API under /api: deployments and aliases; OpenAPI docs."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_deployment_lifecycle(server: TestClient) -> None:
    created = server.post(
        "/api/deployments",
        json={"name": "cancer-v2", "model": "cancer/2", "serving": {"max_batch_size": 16}},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["policy"]["target"] == {"model": "cancer", "version": 2, "alias": None}
    assert body["config"]["max_batch_size"] == 16
    names = [d["name"] for d in server.get("/api/deployments").json()]
    assert names == ["cancer", "cancer-v2", "colors", "explodes"]
    patched = server.patch("/api/deployments/cancer-v2", json={"model": "cancer@champion"})
    assert patched.json()["policy"]["target"]["alias"] == "champion"
    assert server.delete("/api/deployments/cancer-v2").status_code == 204
    assert server.get("/api/deployments/cancer-v2").status_code == 404


def test_deployment_errors(server: TestClient) -> None:
    duplicate = server.post("/api/deployments", json={"name": "cancer", "model": "cancer/1"})
    assert duplicate.status_code == 409 and "already exists" in duplicate.json()["error"]["message"]
    unknown = server.post("/api/deployments", json={"name": "x", "model": "cancer/9"})
    assert unknown.status_code == 404 and "no version 9" in unknown.json()["error"]["message"]
    bad_alias = server.post("/api/deployments", json={"name": "x", "model": "cancer@gold"})
    assert bad_alias.status_code == 404
    bad_name = server.post("/api/deployments", json={"name": "../x", "model": "cancer/1"})
    assert bad_name.status_code == 422, bad_name.text  # refused by the schema, in our error shape
    assert bad_name.json()["error"]["type"] == "InvalidRequest"
    assert "body.name" in bad_name.json()["error"]["message"]
    bad_config = server.post(
        "/api/deployments",
        json={"name": "x", "model": "cancer/1", "serving": {"max_batch_size": 0}},
    )
    assert bad_config.status_code == 422


def test_a_deployment_under_rollout_is_not_deleted(server: TestClient) -> None:
    started = server.post(
        "/api/rollouts", json={"deployment": "cancer", "spec": {"to": "cancer/2", "steps": [100]}}
    )
    assert started.status_code == 201, started.text
    refused = server.delete("/api/deployments/cancer")
    assert refused.status_code == 409 and "abort it first" in refused.json()["error"]["message"]
    aborted = server.post(f"/api/rollouts/{started.json()['id']}/abort")
    assert aborted.status_code == 200 and aborted.json()["status"] == "aborted"
    assert server.delete("/api/deployments/cancer").status_code == 204


def test_models_and_aliases(server: TestClient) -> None:
    assert [m["name"] for m in server.get("/api/models").json()] == ["cancer", "colors", "explodes"]
    versions = server.get("/api/models/cancer/versions").json()
    assert [v["version"] for v in versions] == [1, 2]
    assert server.get("/api/models/cancer/versions/latest").json()["version"] == 2
    moved = server.put("/api/models/cancer/aliases/champion", json={"version": 2})
    assert moved.json() == {"model": "cancer", "alias": "champion", "version": 2, "previous": 1}
    assert server.delete("/api/models/cancer/aliases/champion").json()["previous"] == 2
    assert server.get("/api/models/nope").status_code == 404


def test_openapi_docs(server: TestClient) -> None:
    assert server.get("/docs").status_code == 200
    paths = server.get("/openapi.json").json()["paths"]
    assert "/api/deployments" in paths and "/v2/models/{name}" in paths
