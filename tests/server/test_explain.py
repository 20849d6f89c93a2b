"""The explain routes through the in-process server: three protocols, one answer; the
same 4xx as predict; who may explain; global importance from the prediction log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)

from shipyard import Client
from shipyard.config import ServerSettings, StoreSettings
from shipyard.explain.importance import ImportanceRunner
from shipyard.server.app import create_app
from tests.conftest import bearer

TREES = {
    "hgb": lambda: HistGradientBoostingClassifier(max_iter=40, random_state=0),
    "rf": lambda: RandomForestClassifier(20, max_depth=6, random_state=0),
    "gb": lambda: GradientBoostingClassifier(n_estimators=30, random_state=0),
}
DEPLOYMENTS = ["cancer", "hgb", "rf", "gb"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, breast_cancer, fitted_pipeline):
    X, y = breast_cancer
    client = Client(settings=StoreSettings(home=tmp_path_factory.mktemp("ex") / "ws", user="t"))
    client.register_model(fitted_pipeline, name="cancer", sample_input=X[:50], reference_data=X)
    client.create_deployment("cancer", "cancer/1")
    for name, factory in TREES.items():
        client.register_model(factory().fit(X, y), name=name, sample_input=X[:50])
        client.create_deployment(name, f"{name}/1")
    yield client
    client.close()


@pytest.fixture(scope="module")
def server(workspace: Client) -> Iterator[TestClient]:
    settings = ServerSettings(
        poll_interval_s=0.05,
        prediction_log_flush_s=0.05,
        pipelines=False,
        importance_interval_s=0.2,
    )
    with TestClient(create_app(settings, client=workspace), headers=bearer(workspace)) as http:
        yield http


def _explain(server: TestClient, protocol: str, name: str, X: pd.DataFrame) -> Any:
    if protocol == "native":
        body = {"inputs": X.to_dict(orient="records")}
        return server.post(f"/v1/deployments/{name}/explain", json=body)
    if protocol == "kserve-records":
        return server.post(
            f"/v1/models/{name}:explain", json={"instances": X.to_dict(orient="records")}
        )
    if protocol == "kserve-lists":
        return server.post(f"/v1/models/{name}:explain", json={"instances": X.values.tolist()})
    tensor = {"name": "x", "shape": list(X.shape), "datatype": "FP64", "data": X.values.tolist()}
    return server.post(f"/v2/models/{name}/explain", json={"inputs": [tensor]})


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_three_routes_agree_and_every_row_adds_up(server, breast_cancer, name) -> None:
    X, _ = breast_cancer
    rows = X.iloc[:25]
    answers = {}
    for protocol in ("native", "kserve-records", "kserve-lists", "oip"):
        response = _explain(server, protocol, name, rows)
        assert response.status_code == 200, (protocol, response.text)
        answers[protocol] = response.json()["explanations"]
    native = answers["native"]
    assert len(native) == 25
    for protocol, explanations in answers.items():
        assert explanations == native, protocol
    for row in native:
        assert row["residual"] <= 1e-6
        total = row["base_value"] + sum(row["attributions"].values())
        assert abs(total - row["output"]) <= 1e-6
        assert set(row["attributions"]) == set(X.columns)
        assert row["method"] == ("linear_exact" if name == "cancer" else "tree_shap")
        assert row["output_space"] == ("probability" if name == "rf" else "log_odds")
        assert row["approximate"] is False and row["class"] == 1


def test_responses_carry_predictions_in_each_protocol_shape(
    server, breast_cancer, fitted_pipeline
) -> None:
    X, _ = breast_cancer
    expected = fitted_pipeline.predict(X.iloc[:3]).tolist()
    native = _explain(server, "native", "cancer", X.iloc[:3]).json()
    assert native["predictions"] == expected
    assert (native["model"], native["version"], native["deployment"]) == ("cancer", 1, "cancer")
    kserve = _explain(server, "kserve-lists", "cancer", X.iloc[:3]).json()
    assert set(kserve) == {"predictions", "explanations"} and kserve["predictions"] == expected
    oip = _explain(server, "oip", "cancer", X.iloc[:3]).json()
    assert oip["model_name"] == "cancer" and oip["outputs"][0]["data"] == expected
    assert "explain" in server.get("/v2").json()["extensions"]
    # the explanation's output is the model's own decision function
    decision = fitted_pipeline.decision_function(X.iloc[:3])
    assert np.allclose([r["output"] for r in native["explanations"]], decision)


def _status(server: TestClient, method: str, url: str, body: Any) -> int:
    content = body if isinstance(body, bytes) else None
    json = None if isinstance(body, bytes) else body
    return server.request(method, url, content=content, json=json).status_code


def test_bad_input_gets_the_same_status_as_predict(server, breast_cancer) -> None:
    X, _ = breast_cancer
    record = X.iloc[0].to_dict()
    missing = {k: v for k, v in record.items() if k != "mean radius"}
    wrong_type = {**record, "mean radius": "big"}
    extra = {**record, "colour": 1.0}
    cases = {
        "missing column": [missing],
        "wrong type": [wrong_type],
        "extra column": [extra],
        "empty batch": [],
    }
    for case, records in cases.items():
        predict = _status(server, "POST", "/v1/deployments/cancer/predict", {"inputs": records})
        explain = _status(server, "POST", "/v1/deployments/cancer/explain", {"inputs": records})
        kserve = _status(server, "POST", "/v1/models/cancer:explain", {"instances": records})
        assert predict == explain == kserve and 400 <= predict < 500, (case, predict, explain)
    for body in (b"{not json", {"rows": []}):
        predict = _status(server, "POST", "/v1/deployments/cancer/predict", body)
        explain = _status(server, "POST", "/v1/deployments/cancer/explain", body)
        assert predict == explain == 400
    bad_oip = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}
    assert (
        _status(server, "POST", "/v2/models/cancer/infer", bad_oip)
        == _status(server, "POST", "/v2/models/cancer/explain", bad_oip)
        == 400
    )
    for url in ("/v1/deployments/nope/explain", "/v1/models/nope:explain"):
        assert _status(server, "POST", url, {"inputs": [record], "instances": [record]}) == 404
    body = server.post("/v1/models/cancer:explain", json={"instances": [missing]}).json()
    assert "mean radius" in body["error"]  # KServe's error shape


def test_a_deployment_scoped_predictor_may_explain_and_a_viewer_may_not(
    server, workspace, breast_cancer
) -> None:
    X, _ = breast_cancer
    body = {"inputs": X.iloc[:1].to_dict(orient="records")}
    predictor = bearer(workspace, "predictor", deployments=["cancer"])
    viewer = bearer(workspace, "viewer")
    import time

    time.sleep(0.3)  # the access table reloads within a poll interval
    url = "/v1/deployments/cancer/explain"
    assert server.post(url, json=body, headers=predictor).status_code == 200
    assert server.post(url, json=body, headers=viewer).status_code == 403
    assert (
        server.post("/v1/deployments/hgb/explain", json=body, headers=predictor).status_code == 403
    )
    kserve = server.post(
        "/v1/models/cancer:explain", json={"instances": body["inputs"]}, headers=predictor
    )
    assert kserve.status_code == 200
    assert server.post("/v1/models/cancer:explain", json={}, headers={}).status_code in (200, 400)


def test_global_importance_is_computed_from_the_log_and_shown_in_the_card(
    server, workspace, breast_cancer
) -> None:
    import time

    X, _ = breast_cancer
    rows = X.iloc[:300].to_dict(orient="records")  # one request: logged in one segment
    assert server.post("/v1/deployments/hgb/predict", json={"inputs": rows}).status_code == 200
    deadline = time.monotonic() + 20
    importance = None
    while importance is None and time.monotonic() < deadline:
        time.sleep(0.1)  # the server's background runner computes it from the log
        importance = workspace.importance("hgb", 1)
    assert importance is not None and importance.rows == 300 and importance.method == "tree_shap"
    assert importance.output_space == "log_odds" and importance.deployment == "hgb"
    direct = workspace.explain("models:/hgb/1", X.iloc[:300])
    assert importance.values == pytest.approx(direct.mean_abs(), rel=1e-9)
    card = workspace.model_card("hgb", 1)
    assert "## Global feature importance" in card
    top = importance.ranked()[0][0]
    assert f"| 1 | {top} |" in card
    assert card.index("Global feature importance") < card.index("Intended use")
    assert workspace.model_card("rf", 1).count("Global feature importance") == 0


def test_the_importance_runner_waits_for_logged_rows(workspace: Client, tmp_path: Path) -> None:
    runner = ImportanceRunner(workspace.store, "other", interval_s=0.0)
    runner.work()  # rf and gb have no logged predictions: nothing computed, nothing raised
    assert workspace.importance("gb", 1) is None
