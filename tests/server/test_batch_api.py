"""Batch jobs started through the control API run in the server and count on /metrics."""

from __future__ import annotations

import time

import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from shipyard import Client
from tests.conftest import bearer


def _wait_until_ended(server: TestClient, name: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = server.get(f"/api/batch-jobs/{name}")
        if job.status_code == 200 and job.json()["status"] != "running":
            return job.json()
        time.sleep(0.05)
    raise AssertionError(f"batch job {name} did not end")


def test_a_job_started_over_http_scores_the_file_and_counts_rows(
    server: TestClient, workspace: Client, breast_cancer
) -> None:
    X, _ = breast_cancer
    tmp_path = workspace.settings.home / "batch"  # the server's batch folder
    tmp_path.mkdir()
    X.to_csv(tmp_path / "in.csv", index=False)
    started = server.post(
        "/api/batch-jobs",
        json={
            "target": "cancer",
            "input": str(tmp_path / "in.csv"),
            "output": str(tmp_path / "out"),
            "job": "over-http",
            "chunk_rows": 200,
            "workers": 2,
        },
    )
    assert started.status_code == 202, started.text
    assert started.json() == {"name": "over-http", "status": "started"}
    job = _wait_until_ended(server, "over-http")
    assert job["status"] == "succeeded", job["error"]
    assert job["rows_done"] == len(X) and job["created_by"].startswith("token:")
    assert job["model"] == "cancer" and job["version"] == 1  # the champion
    assert sum(pq.read_table(p).num_rows for p in (tmp_path / "out").glob("part-*")) == len(X)
    metrics = server.get("/metrics").text
    assert f'shipyard_batch_rows_total{{job="over-http",outcome="scored"}} {len(X)}.0' in metrics
    assert 'shipyard_batch_jobs_total{status="succeeded"} 1.0' in metrics
    listed = [j["name"] for j in server.get("/api/batch-jobs").json()]
    assert "over-http" in listed


def test_starting_a_job_needs_the_run_permission(server: TestClient, workspace: Client) -> None:
    batch = workspace.settings.home / "batch"
    body = {"target": "cancer", "input": f"{batch}/missing.csv", "output": f"{batch}/out"}
    viewer = bearer(workspace, "viewer")
    deadline = time.monotonic() + 5  # a new token is known from the next table refresh
    while server.get("/version", headers=viewer).status_code == 401:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert server.post("/api/batch-jobs", json=body, headers=viewer).status_code == 403
    assert server.get("/api/batch-jobs", headers=viewer).status_code == 200
    bad = server.post("/api/batch-jobs", json={**body, "chunk_rows": 0})
    assert bad.status_code == 422
    assert server.get("/api/batch-jobs/nope").status_code == 404
    missing = server.post("/api/batch-jobs", json=body)
    assert missing.status_code == 400 and "no such file" in missing.json()["error"]["message"]
    relative = server.post("/api/batch-jobs", json={**body, "output": "out"})
    assert relative.status_code == 400 and "absolute path" in relative.json()["error"]["message"]
    unknown = server.post("/api/batch-jobs", json={**body, "target": "nope"})
    assert unknown.status_code == 404
    for outside in ("/etc/passwd", f"{batch}/../ws.db", "file:///etc/passwd"):
        refused = server.post("/api/batch-jobs", json={**body, "input": outside})
        assert refused.status_code == 400, outside
        assert "outside the server's batch folders" in refused.json()["error"]["message"]
