"""MLflow scoring protocol: /invocations in every input format, CSV, errors."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def expected(fitted_pipeline, breast_cancer) -> list[int]:
    X, _ = breast_cancer
    return fitted_pipeline.predict(X[:3]).tolist()


def test_every_json_format(server: TestClient, breast_cancer, expected) -> None:
    X, _ = breast_cancer
    rows = X[:3]
    bodies = [
        {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}},
        {"dataframe_records": rows.to_dict(orient="records")},
        {"instances": rows.to_dict(orient="records")},
        {"inputs": rows.to_dict(orient="records")},
        {"inputs": {c: rows[c].tolist() for c in rows.columns}},
        {"instances": rows.values.tolist()},
    ]
    for body in bodies:
        response = server.post("/v1/deployments/cancer/invocations", json=body)
        assert response.status_code == 200, (body.keys(), response.text)
        assert response.json() == {"predictions": expected}


def test_predict_fn_param_returns_probabilities(
    server: TestClient, breast_cancer, fitted_pipeline
) -> None:
    X, _ = breast_cancer
    body = {
        "dataframe_records": X[:2].to_dict(orient="records"),
        "params": {"predict_fn": "predict_proba"},
    }
    predictions = server.post("/v1/deployments/cancer/invocations", json=body).json()
    assert np.allclose(predictions["predictions"], fitted_pipeline.predict_proba(X[:2]))


def test_csv_body(server: TestClient, breast_cancer, expected) -> None:
    X, _ = breast_cancer
    response = server.post(
        "/v1/deployments/cancer/invocations",
        content=X[:3].to_csv(index=False).encode(),
        headers={"content-type": "text/csv"},
    )
    assert response.json() == {"predictions": expected}


def test_plain_invocations_needs_one_deployment(server: TestClient, breast_cancer) -> None:
    X, _ = breast_cancer
    response = server.post(
        "/invocations", json={"dataframe_records": X[:1].to_dict(orient="records")}
    )
    assert response.status_code == 400
    error = response.json()
    assert error["error_code"] == "BAD_REQUEST" and "--default-deployment" in error["message"]


def test_errors_use_mlflows_shape(server: TestClient, records) -> None:
    response = server.post(
        "/v1/deployments/cancer/invocations",
        json={"dataframe_records": records, "instances": records},
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "BAD_REQUEST"
    assert "exactly one of" in response.json()["message"]
    missing = server.post("/v1/deployments/nope/invocations", json={"instances": records})
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_health_ping_version(server: TestClient) -> None:
    assert server.get("/ping").status_code == 200
    assert server.get("/health").json()["status"] == "ok"
    assert server.get("/version").text == __import__("shipyard").__version__
