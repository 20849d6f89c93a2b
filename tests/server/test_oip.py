"""Open Inference Protocol v2: metadata, health, tensors, errors."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient


def test_server_and_health_endpoints(server: TestClient) -> None:
    assert server.get("/v2").json()["name"] == "shipyard"
    assert server.get("/v2/health/live").status_code == 200
    assert server.get("/v2/health/ready").status_code == 200
    assert server.get("/v2/models/cancer/ready").json() == {"name": "cancer", "ready": True}
    assert server.get("/v2/models/cancer/versions/1/ready").status_code == 200
    assert server.get("/v2/models/nope/ready").status_code == 404


def test_model_metadata(server: TestClient, breast_cancer) -> None:
    X, _ = breast_cancer
    meta = server.get("/v2/models/cancer").json()
    assert meta["name"] == "cancer" and meta["versions"] == ["1"]
    assert [i["name"] for i in meta["inputs"]] == list(X.columns)
    assert {o["name"] for o in meta["outputs"]} == {"predict", "predict_proba"}
    assert meta["outputs"][0]["datatype"] == "INT64"
    assert server.get("/v2/models/cancer/versions/1").json() == meta
    missing = server.get("/v2/models/cancer/versions/7")
    assert missing.status_code == 404 and "serves version 1" in missing.json()["error"]


def _tensor(X, nested: bool) -> dict:
    data = X.values.tolist() if nested else X.values.ravel().tolist()
    return {"name": "input-0", "shape": list(X.shape), "datatype": "FP64", "data": data}


@pytest.mark.parametrize("nested", [True, False])
def test_infer_with_one_matrix_tensor(
    server: TestClient, breast_cancer, fitted_pipeline, nested: bool
) -> None:
    X, _ = breast_cancer
    body = {"id": "abc", "inputs": [_tensor(X[:4], nested)]}
    response = server.post("/v2/models/cancer/infer", json=body)
    assert response.status_code == 200
    result = response.json()
    assert result["model_name"] == "cancer" and result["model_version"] == "1"
    outputs = {o["name"]: o for o in result["outputs"]}
    assert outputs["predict"]["data"] == fitted_pipeline.predict(X[:4]).tolist()
    assert outputs["predict_proba"]["shape"] == [4, 2]
    assert np.allclose(
        np.array(outputs["predict_proba"]["data"]).reshape(4, 2),
        fitted_pipeline.predict_proba(X[:4]),
    )


def test_infer_with_named_column_tensors_and_output_selection(
    server: TestClient, breast_cancer, fitted_pipeline
) -> None:
    X, _ = breast_cancer
    inputs = [
        {"name": c, "shape": [3, 1], "datatype": "FP64", "data": X[c][:3].tolist()}
        for c in X.columns
    ]
    body = {"inputs": inputs, "outputs": [{"name": "predict_proba"}]}
    result = server.post("/v2/models/cancer/versions/1/infer", json=body).json()
    assert [o["name"] for o in result["outputs"]] == ["predict_proba"]
    assert np.allclose(
        np.array(result["outputs"][0]["data"]).reshape(3, 2), fitted_pipeline.predict_proba(X[:3])
    )


@pytest.mark.parametrize(
    ("mutate", "status", "fragment"),
    [
        (lambda t: t.update(shape=[2, 60]), 400, "does not fit"),
        (lambda t: t.update(shape=[5, 30]), 400, "needs 150 values"),
        (lambda t: t.update(datatype="FP128"), 400, "unknown datatype"),
        (lambda t: t.update(datatype="BYTES"), 400, "BYTES needs strings"),
        (lambda t: t.update(shape="4x30"), 400, "shape must be a list"),
        (lambda t: t.pop("name"), 400, "name must be a string"),
    ],
)
def test_bad_tensors(server: TestClient, breast_cancer, mutate, status, fragment) -> None:
    X, _ = breast_cancer
    tensor = _tensor(X[:4], nested=False)
    mutate(tensor)
    response = server.post("/v2/models/cancer/infer", json={"inputs": [tensor]})
    assert response.status_code == status
    assert fragment in response.json()["error"]


def test_errors_use_the_oip_shape(server: TestClient, breast_cancer) -> None:
    X, _ = breast_cancer
    body = {"inputs": [_tensor(X[:2], nested=True)]}
    wrong_version = server.post("/v2/models/cancer/versions/3/infer", json=body)
    assert wrong_version.status_code == 404 and "serves version 1" in wrong_version.json()["error"]
    unknown = server.post("/v2/models/nope/infer", json=body)
    assert unknown.status_code == 404 and set(unknown.json()) == {"error"}
    empty = server.post("/v2/models/cancer/infer", json={"inputs": []})
    assert empty.status_code == 400 and "non-empty" in empty.json()["error"]
    bad_output = server.post(
        "/v2/models/cancer/infer", json={**body, "outputs": [{"name": "logits"}]}
    )
    assert bad_output.status_code == 400 and "unknown output" in bad_output.json()["error"]
