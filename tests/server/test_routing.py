"""Alias moves are served within 2 s, load-then-switch, failed loads keep the old version."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from shipyard import Client


def _served_version(server: TestClient, records) -> int:
    response = server.post("/v1/deployments/cancer/predict", json={"inputs": records[:1]})
    assert response.status_code == 200, response.text
    return int(response.json()["version"])


def _wait_for(server: TestClient, records, version: int, timeout: float = 2.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if _served_version(server, records) == version:
            return time.perf_counter() - started
        time.sleep(0.02)
    raise AssertionError(f"version {version} not served within {timeout} s")


def test_a_moved_alias_is_served_within_two_seconds(
    server: TestClient, workspace: Client, records
) -> None:
    assert _served_version(server, records) == 1
    workspace.set_alias("cancer", "champion", 2)
    assert _wait_for(server, records, 2) < 2.0
    workspace.set_alias("cancer", "champion", 1)
    assert _wait_for(server, records, 1) < 2.0


def test_a_version_that_fails_to_load_never_takes_traffic(
    server: TestClient, workspace: Client, records, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    broken = workspace.register_model(fitted_pipeline, name="cancer", sample_input=X[:20])
    tree = workspace.store.artifacts.open_tree(broken.sha256)
    path = workspace.store.artifacts.local_path(tree.files["model.skops"]["sha256"])
    assert path is not None
    path.write_bytes(b"corrupted on disk")
    workspace.set_alias("cancer", "champion", broken.version)
    deadline = time.perf_counter() + 1.5
    while time.perf_counter() < deadline:  # the old version keeps answering throughout
        assert _served_version(server, records) == 1
        time.sleep(0.05)
    failures = server.get("/health").json()["failures"]
    assert "hash mismatch" in failures["cancer"]
    assert server.get("/health").status_code == 200  # still serving the working version
    metrics = server.get("/metrics").text
    assert f'shipyard_model_load_failures_total{{model="cancer/{broken.version}"}} 1.0' in metrics


def test_new_and_deleted_deployments_follow_the_store(
    server: TestClient, workspace: Client, records
) -> None:
    workspace.create_deployment("late", "cancer/2")
    deadline = time.perf_counter() + 2
    while time.perf_counter() < deadline:
        response = server.post("/v1/deployments/late/predict", json={"inputs": records[:1]})
        if response.status_code == 200:
            break
        time.sleep(0.02)
    assert response.status_code == 200 and response.json()["version"] == 2
    workspace.delete_deployment("late")
    time.sleep(0.5)
    assert (
        server.post("/v1/deployments/late/predict", json={"inputs": records[:1]}).status_code == 404
    )


def test_metrics_cover_requests_latency_batches_and_loads(server: TestClient, records) -> None:
    for _ in range(3):
        server.post("/v1/deployments/cancer/predict", json={"inputs": records})
    text = server.get("/metrics").text
    for name in (
        "shipyard_requests_total",
        "shipyard_request_latency_seconds_bucket",
        "shipyard_queue_wait_seconds_bucket",
        "shipyard_model_latency_seconds_bucket",
        "shipyard_batch_size_bucket",
        "shipyard_in_flight_requests",
        "shipyard_model_load_seconds_bucket",
        "shipyard_models_loaded",
    ):
        assert name in text, name
    assert (
        'shipyard_requests_total{deployment="cancer",protocol="native",status="200",'
        'version="1"} 3.0'
    ) in text
