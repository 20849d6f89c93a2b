"""Experiments, runs and their values through MLflow's REST API, as its client sends them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shipyard import Client
from tests.server.mlflow_api.conftest import API


def _experiment(http: TestClient, name: str = "demo") -> str:
    missing = http.get(f"{API}/experiments/get-by-name", params={"experiment_name": name})
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    created = http.post(f"{API}/experiments/create", json={"name": name})
    assert created.status_code == 200, created.text
    return created.json()["experiment_id"]


def _run(http: TestClient, experiment_id: str, name: str = "r1") -> str:
    answer = http.post(
        f"{API}/runs/create",
        json={
            "experiment_id": experiment_id,
            "user_id": "someone",
            "start_time": 1_700_000_000_000,
            "tags": [{"key": "mlflow.runName", "value": name}],
        },
    )
    assert answer.status_code == 200, answer.text
    info = answer.json()["run"]["info"]
    assert info["artifact_uri"] == f"mlflow-artifacts:/{experiment_id}/{info['run_id']}/artifacts"
    return info["run_id"]


def test_a_run_logged_one_call_at_a_time_reads_back(http: TestClient, workspace: Client) -> None:
    experiment_id = _experiment(http)
    again = http.post(f"{API}/experiments/create", json={"name": "demo"})
    assert again.status_code == 400
    assert again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    got = http.get(f"{API}/experiments/get", params={"experiment_id": experiment_id}).json()
    assert got["experiment"]["name"] == "demo"
    assert got["experiment"]["artifact_location"] == f"mlflow-artifacts:/{experiment_id}"
    run_id = _run(http, experiment_id)
    ids = {"run_id": run_id, "run_uuid": run_id}
    assert (
        http.post(f"{API}/runs/log-parameter", json={**ids, "key": "C", "value": "1.0"}).json()
        == {}
    )
    for step, value in enumerate([0.5, 0.7, 0.9]):
        body = {**ids, "key": "acc", "value": value, "timestamp": 1, "step": step}
        assert http.post(f"{API}/runs/log-metric", json=body).status_code == 200
    batch = {
        **ids,
        "metrics": [{"key": "loss", "value": 0.1, "timestamp": 2, "step": 0}],
        "params": [{"key": "depth", "value": "3"}],
        "tags": [{"key": "team", "value": "fraud"}],
    }
    assert http.post(f"{API}/runs/log-batch", json=batch).status_code == 200
    assert (
        http.post(f"{API}/runs/set-tag", json={**ids, "key": "x", "value": "y"}).status_code == 200
    )
    assert http.post(f"{API}/runs/delete-tag", json={**ids, "key": "x"}).status_code == 200
    inputs = {
        **ids,
        "datasets": [
            {"dataset": {"name": "iris", "digest": "abc123", "source_type": "code", "source": "{}"}}
        ],
    }
    assert http.post(f"{API}/runs/log-inputs", json=inputs).status_code == 200
    done = http.post(f"{API}/runs/update", json={**ids, "status": "FINISHED", "end_time": 5})
    assert done.json()["run_info"]["status"] == "FINISHED"
    run = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    data = run["data"]
    assert {p["key"]: p["value"] for p in data["params"]} == {"C": "1.0", "depth": "3"}
    assert {m["key"]: m["value"] for m in data["metrics"]} == {"acc": 0.9, "loss": 0.1}
    tags = {t["key"]: t["value"] for t in data["tags"]}
    assert tags["team"] == "fraud" and "x" not in tags and tags["mlflow.runName"] == "r1"
    assert run["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "iris"
    history = http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "acc"})
    assert [m["value"] for m in history.json()["metrics"]] == [0.5, 0.7, 0.9]
    # the same run, seen by the SDK
    assert workspace.get_run(run_id).params == {"C": "1.0", "depth": "3"}
    events = [e["action"] for e in workspace.audit_events(limit=50)]
    assert "run.start" in events and "run.update" in events


def test_search_runs_with_mlflow_filters_and_pages(http: TestClient) -> None:
    experiment_id = _experiment(http)
    runs = {}
    for index in range(5):
        run_id = _run(http, experiment_id, f"r{index}")
        runs[index] = run_id
        ids = {"run_id": run_id}
        http.post(
            f"{API}/runs/log-metric",
            json={**ids, "key": "m", "value": index / 10, "timestamp": 1, "step": 0},
        )
        http.post(
            f"{API}/runs/log-parameter",
            json={**ids, "key": "p", "value": "a" if index % 2 else "b"},
        )
    http.post(f"{API}/runs/update", json={"run_id": runs[4], "status": "FINISHED", "end_time": 9})

    def search(filter_: str, **extra: object) -> list[str]:
        body = {"experiment_ids": [experiment_id], "filter": filter_, **extra}
        answer = http.post(f"{API}/runs/search", json=body)
        assert answer.status_code == 200, answer.text
        return [r["info"]["run_name"] for r in answer.json().get("runs", [])]

    assert sorted(search("metrics.m > 0.15")) == ["r2", "r3", "r4"]
    assert sorted(search("params.p = 'a' AND metrics.m >= 0.3")) == ["r3"]
    assert search("tags.`mlflow.runName` = 'r2'") == ["r2"]
    assert search("attributes.status = 'FINISHED'") == ["r4"]
    assert sorted(search("params.p != 'a'")) == ["r0", "r2", "r4"]
    assert sorted(search("tags.`mlflow.runName` LIKE 'r%' and params.p ILIKE 'A'")) == ["r1", "r3"]
    assert sorted(search("attributes.run_name IN ('r0', 'r1')")) == ["r0", "r1"]
    assert search("", order_by=["metrics.m DESC"], max_results=2) == ["r4", "r3"]
    first = http.post(
        f"{API}/runs/search",
        json={"experiment_ids": [experiment_id], "max_results": 2, "order_by": ["metrics.m ASC"]},
    ).json()
    second = http.post(
        f"{API}/runs/search",
        json={
            "experiment_ids": [experiment_id],
            "max_results": 2,
            "order_by": ["metrics.m ASC"],
            "page_token": first["next_page_token"],
        },
    ).json()
    assert [r["info"]["run_name"] for r in first["runs"] + second["runs"]] == [
        "r0",
        "r1",
        "r2",
        "r3",
    ]
    bad = http.post(
        f"{API}/runs/search", json={"experiment_ids": [experiment_id], "filter": "metrics.m >"}
    )
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    http.post(f"{API}/runs/delete", json={"run_id": runs[0]})
    assert "r0" not in search("")
    assert search("", run_view_type="DELETED_ONLY") == ["r0"]


def test_experiment_search_tags_and_lifecycle(http: TestClient) -> None:
    first = _experiment(http, "alpha")
    _experiment(http, "beta")
    http.post(
        f"{API}/experiments/set-experiment-tag",
        json={"experiment_id": first, "key": "team", "value": "x"},
    )
    found = http.post(f"{API}/experiments/search", json={"filter": "name LIKE 'al%'"}).json()
    assert [e["name"] for e in found["experiments"]] == ["alpha"]
    tagged = http.get(f"{API}/experiments/search", params={"filter": "tags.team = 'x'"}).json()
    assert [e["name"] for e in tagged["experiments"]] == ["alpha"]
    http.post(f"{API}/experiments/delete", json={"experiment_id": first})
    active = http.post(f"{API}/experiments/search", json={}).json()
    assert [e["name"] for e in active["experiments"]] == ["beta"]
    refused = http.post(f"{API}/runs/create", json={"experiment_id": first})
    assert refused.status_code == 400
    http.post(f"{API}/experiments/restore", json={"experiment_id": first})
    assert http.post(f"{API}/runs/create", json={"experiment_id": first}).status_code == 200


def test_mlflow_default_experiment_is_shipyards_default(
    http: TestClient, workspace: Client
) -> None:
    assert http.get(f"{API}/experiments/get", params={"experiment_id": "0"}).status_code == 404
    run = http.post(f"{API}/runs/create", json={"experiment_id": "0"}).json()["run"]
    assert workspace.get_run(run["info"]["run_id"]).experiment == "default"
    got = http.get(f"{API}/experiments/get", params={"experiment_id": "0"}).json()
    assert got["experiment"]["name"] == "default"
