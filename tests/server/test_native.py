"""POST /v1/deployments/{name}/predict, including every bad-input case."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from shipyard.config import ServerSettings
from shipyard.server.app import create_app
from tests.conftest import bearer


def test_records_and_columns_forms(
    server: TestClient, records, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    response = server.post(
        "/v1/deployments/cancer/predict",
        json={"inputs": records},
        headers={"x-request-id": "req-42"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["predictions"] == fitted_pipeline.predict(X[:5]).tolist()
    assert np.allclose(body["probabilities"], fitted_pipeline.predict_proba(X[:5]))
    assert body["classes"] == [0, 1]
    assert (body["model"], body["version"], body["deployment"]) == ("cancer", 1, "cancer")
    assert body["request_id"] == "req-42" and response.headers["x-request-id"] == "req-42"
    columns = list(X.columns)
    split = server.post(
        "/v1/deployments/cancer/predict", json={"columns": columns, "data": X[:5].values.tolist()}
    )
    assert split.json()["predictions"] == body["predictions"]


def test_concurrent_requests_are_answered_individually(
    server: TestClient, records, fitted_pipeline, breast_cancer
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    X, _ = breast_cancer
    expected = fitted_pipeline.predict_proba(X[:5])[:, 1]
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda i: server.post(
                    "/v1/deployments/cancer/predict", json={"inputs": [records[i % 5]]}
                ).json(),
                range(40),
            )
        )
    for i, answer in enumerate(answers):
        assert math.isclose(answer["probabilities"][0][1], expected[i % 5], rel_tol=1e-9)


def _error(server: TestClient, body, deployment: str = "cancer", **kwargs):
    response = server.post(f"/v1/deployments/{deployment}/predict", json=body, **kwargs)
    return response.status_code, response.json()["error"]["message"]


def test_missing_and_extra_columns_name_the_field_and_row(server: TestClient, records) -> None:
    missing = dict(records[1])
    del missing["mean area"]
    status, message = _error(server, {"inputs": [records[0], missing]})
    assert status == 422 and "row 1, column 'mean area': is missing" in message
    extra = {**records[0], "colour": "red"}
    status, message = _error(server, {"inputs": [extra]})
    assert status == 422 and "row 0, column 'colour'" in message and "unexpected" in message


def test_wrong_types_and_nan(server: TestClient, records) -> None:
    status, message = _error(server, {"inputs": [{**records[0], "mean radius": "big"}]})
    assert status == 422 and "column 'mean radius': expected a number, got str 'big'" in message
    status, message = _error(server, {"inputs": [{**records[0], "mean radius": None}]})
    assert status == 422 and "not nullable" in message
    status, message = _error(server, {"inputs": [{**records[0], "mean radius": True}]})
    assert status == 422 and "expected a number, got bool" in message


def test_categories_and_nullability_follow_the_signature(server: TestClient) -> None:
    ok = server.post(
        "/v1/deployments/colors/predict", json={"inputs": [{"color": "blue", "amount": None}]}
    )
    assert ok.status_code == 200 and ok.json()["predictions"] == [2.0]
    status, message = _error(server, {"inputs": [{"color": "green", "amount": 1.0}]}, "colors")
    assert status == 422 and "unknown category 'green'" in message and "'blue'" in message
    status, message = _error(server, {"inputs": [{"color": None, "amount": 1.0}]}, "colors")
    assert status == 422 and "column 'color'" in message and "not nullable" in message


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"inputs": []}, 422, "the batch is empty"),
        ({"inputs": "x"}, 422, "list of records"),
        ([1, 2], 400, "JSON object"),
        ({"rows": []}, 400, '"inputs"'),
        ({"columns": ["a"], "data": [[1, 2]]}, 422, "has 2 values for 1 columns"),
        ({"inputs": [1]}, 422, "expected an object"),
    ],
)
def test_malformed_bodies(server: TestClient, body, status, fragment) -> None:
    got_status, message = _error(server, body)
    assert got_status == status and fragment in message


def test_invalid_json_and_body_too_large(server: TestClient, records) -> None:
    response = server.post(
        "/v1/deployments/cancer/predict",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]["message"]
    huge = {"inputs": records * 200}
    response = server.post("/v1/deployments/cancer/predict", json=huge)
    assert response.status_code == 413 and "limit" in response.json()["error"]["message"]


def test_unknown_deployment(server: TestClient, records) -> None:
    status, message = _error(server, {"inputs": records}, deployment="nope")
    assert status == 404 and "deployment 'nope' does not exist" in message


def test_a_model_that_raises_gives_500_with_request_id_and_serving_goes_on(
    server: TestClient,
) -> None:
    response = server.post(
        "/v1/deployments/explodes/predict",
        json={"inputs": [{"x": 13.0}]},
        headers={"x-request-id": "boom-1"},
    )
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["request_id"] == "boom-1" and "ValueError" in error["message"]
    assert "unlucky input" not in error["message"]  # the model's own text stays in the log
    assert "boom-1" in error["message"]
    fine = server.post("/v1/deployments/explodes/predict", json={"inputs": [{"x": 2.0}]})
    assert fine.status_code == 200 and fine.json()["predictions"] == [4.0]
    metrics = server.get("/metrics").text
    assert (
        'shipyard_requests_total{deployment="explodes",protocol="native",status="500",'
        'version="-"} 1.0'
    ) in metrics


def test_a_bad_request_in_a_batch_does_not_fail_its_neighbours(server: TestClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def call(x: float) -> int:
        return server.post(
            "/v1/deployments/explodes/predict", json={"inputs": [{"x": x}]}
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(call, [13.0 if i % 7 == 0 else i + 0.5 for i in range(50)]))
    assert statuses.count(500) == len([i for i in range(50) if i % 7 == 0])
    assert statuses.count(200) == 50 - statuses.count(500)


def test_too_many_rows_in_one_request_answer_413(workspace, records) -> None:
    app = create_app(ServerSettings(max_rows_per_request=3), client=workspace)
    with TestClient(app, headers=bearer(workspace)) as server:
        ok = server.post("/v1/deployments/cancer/predict", json={"inputs": records[:3]})
        assert ok.status_code == 200
        big = server.post("/v1/deployments/cancer/predict", json={"inputs": records[:4]})
        assert big.status_code == 413
        assert "4 rows; the limit is 3 (SHIPYARD_MAX_ROWS_PER_REQUEST)" in big.text
