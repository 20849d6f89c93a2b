"""Prediction log, delayed feedback, quality and drift through the in-process server."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn import metrics

from shipyard import Client
from shipyard.config import ServerSettings
from shipyard.errors import InvalidInput
from shipyard.monitoring.predlog import PredictionLogger
from shipyard.server.app import create_app
from shipyard.store.artifacts import ArtifactStore
from tests.conftest import bearer

FAST = ServerSettings(prediction_log_flush_s=0.05)


def _predict(server: TestClient, rows: list[dict], request_id: str) -> dict:
    response = server.post(
        "/v1/deployments/cancer/predict",
        json={"inputs": rows},
        headers={"x-request-id": request_id},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_every_prediction_is_logged_with_its_request(workspace: Client, breast_cancer) -> None:
    X, _ = breast_cancer
    rows = X[:30].to_dict(orient="records")
    with TestClient(create_app(FAST, client=workspace), headers=bearer(workspace)) as server:
        answers = [_predict(server, rows[i : i + 3], f"req-{i}") for i in range(0, 30, 3)]
    logged = workspace.predictions("cancer")
    assert len(logged) == 30
    assert set(logged["request_id"]) == {f"req-{i}" for i in range(0, 30, 3)}
    first = logged[logged["request_id"] == "req-0"].sort_values("row")
    assert first["row"].tolist() == [0, 1, 2]
    assert first["prediction"].tolist() == [str(p) for p in answers[0]["predictions"]]
    assert np.allclose(first["score"], [p[1] for p in answers[0]["probabilities"]])
    assert first["in.mean radius"].tolist() == X["mean radius"][:3].tolist()
    assert set(logged["version"]) == {1} and set(logged["arm"]) == {"cancer@champion"}


def test_pii_fields_are_dropped_or_hashed_and_sampling_thins(
    workspace: Client, breast_cancer
) -> None:
    X, _ = breast_cancer
    config = workspace.get_deployment("cancer").config
    workspace.store.deployments.update(
        "cancer",
        config={**config, "log": {"drop": ["mean area"], "hash": ["mean radius"]}},
        actor="t",
    )
    with TestClient(create_app(FAST, client=workspace), headers=bearer(workspace)) as server:
        _predict(server, X[:2].to_dict(orient="records"), "pii")
    logged = workspace.predictions("cancer")
    assert "in.mean area" not in logged.columns
    assert logged["in.mean radius"].str.len().eq(32).all()
    assert str(X["mean radius"].iloc[0]) not in set(logged["in.mean radius"])
    workspace.store.deployments.update(
        "cancer", config={**config, "log": {"sample_rate": 0.0}}, actor="t"
    )
    predlog = PredictionLogger(workspace.store.artifacts, flush_interval_s=0.05)
    with TestClient(
        create_app(FAST, client=workspace, prediction_log=predlog), headers=bearer(workspace)
    ) as server:
        for i in range(5):
            _predict(server, X[:1].to_dict(orient="records"), f"sampled-{i}")
    assert predlog.counters.sampled_out == 5 and predlog.counters.logged == 0


class FailingArtifacts(ArtifactStore):
    def put_path(self, relpath: str, data: bytes) -> None:
        raise OSError("disk full")


class SlowArtifacts(ArtifactStore):
    def put_path(self, relpath: str, data: bytes) -> None:
        time.sleep(0.5)
        super().put_path(relpath, data)


@pytest.mark.parametrize("store_type", [FailingArtifacts, SlowArtifacts])
def test_a_slow_or_failing_log_never_fails_a_request(
    workspace: Client, breast_cancer, store_type, tmp_path
) -> None:
    X, _ = breast_cancer
    artifacts = store_type(str(tmp_path / "log-artifacts"))
    predlog = PredictionLogger(artifacts, max_queue=20, flush_interval_s=0.01)
    rows = X[:1].to_dict(orient="records")
    with TestClient(
        create_app(FAST, client=workspace, prediction_log=predlog), headers=bearer(workspace)
    ) as server:
        for i in range(200):
            _predict(server, rows, f"r{i}")
        text = server.get("/metrics").text
    counters = predlog.counters
    assert counters.dropped_full + counters.dropped_write > 0
    assert counters.logged + counters.dropped_full + counters.dropped_write == 200
    if store_type is FailingArtifacts:
        assert counters.dropped_write > 0 and counters.logged == 0
    assert 'shipyard_prediction_log_records_total{outcome="dropped_' in text


def test_delayed_labels_give_the_quality_sklearn_computes(workspace: Client, breast_cancer) -> None:
    X, y = breast_cancer
    rows = X[:120].to_dict(orient="records")
    with TestClient(create_app(FAST, client=workspace), headers=bearer(workspace)) as server:
        answers = {f"q{i}": _predict(server, [rows[i]], f"q{i}") for i in range(120)}
        before = workspace.model_quality("cancer")[0]
        assert before.labelled == 0 and 0.5 < before.estimated["accuracy"] <= 1.0
        # Labels arrive later, for 100 of the 120 predictions, through the API.
        labels = [{"request_id": f"q{i}", "label": int(y.iloc[i])} for i in range(100)]
        assert server.post("/v1/deployments/cancer/feedback", json=labels).json() == {
            "accepted": 100
        }
        bad = server.post("/v1/deployments/cancer/feedback", json=[{"label": 1}])
        assert bad.status_code == 422 and "request_id" in bad.json()["error"]["message"]
    quality = workspace.model_quality("cancer")[0]
    y_true = y.iloc[:100].to_numpy()
    y_pred = np.array([answers[f"q{i}"]["predictions"][0] for i in range(100)])
    proba = np.array([answers[f"q{i}"]["probabilities"][0] for i in range(100)])
    assert quality.labelled == 100 and quality.rows == 120
    assert quality.metrics["accuracy"] == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    assert quality.metrics["precision"] == pytest.approx(metrics.precision_score(y_true, y_pred))
    assert quality.metrics["recall"] == pytest.approx(metrics.recall_score(y_true, y_pred))
    assert quality.metrics["f1"] == pytest.approx(metrics.f1_score(y_true, y_pred))
    assert quality.metrics["roc_auc"] == pytest.approx(metrics.roc_auc_score(y_true, proba[:, 1]))
    assert quality.metrics["log_loss"] == pytest.approx(metrics.log_loss(y_true, proba))
    by_version = workspace.model_quality("cancer", by="version")
    assert [q.group for q in by_version] == ["version=1"]


def test_feedback_upload_from_a_file(workspace: Client, tmp_path) -> None:
    path = tmp_path / "labels.csv"
    pd.DataFrame({"request_id": ["a", "b"], "label": [1, 0]}).to_csv(path, index=False)
    assert workspace.upload_feedback("cancer", path) == 2
    assert sorted(r.request_id for r in workspace.store.feedback.all_for("cancer")) == ["a", "b"]
    (tmp_path / "bad.csv").write_text("id,y\n1,2\n")
    with pytest.raises(Exception, match="lacks the column 'request_id'"):
        workspace.upload_feedback("cancer", tmp_path / "bad.csv")


def test_outcomes_merge_with_labels_and_earlier_outcomes(workspace: Client, tmp_path) -> None:
    """A label, then outcomes in two later deliveries: the row keeps all three."""
    workspace.add_feedback("cancer", [{"request_id": "a", "label": 1}])
    workspace.add_feedback("cancer", [{"request_id": "a", "outcome": {"clicked": True}}])
    path = tmp_path / "outcomes.csv"
    pd.DataFrame(
        {"request_id": ["a", "b"], "outcome.revenue": [12.5, None], "spend": [1, 2]}
    ).to_csv(path, index=False)
    assert workspace.upload_feedback("cancer", path, outcomes=["spend"]) == 2
    rows = {r.request_id: r for r in workspace.store.feedback.all_for("cancer")}
    assert rows["a"].label == 1
    assert rows["a"].outcome == {"clicked": 1.0, "revenue": 12.5, "spend": 1.0}
    assert rows["b"].label is None and rows["b"].outcome == {"spend": 2.0}
    for bad, message in [
        ({"request_id": "a"}, "needs a label, an outcome or both"),
        ({"request_id": "a", "outcome": {}}, "non-empty object"),
        ({"request_id": "a", "outcome": {"1x": 1}}, "outcome name '1x'"),
        ({"request_id": "a", "outcome": {"x": "yes"}}, "outcome 'x' must be a finite number"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            workspace.add_feedback("cancer", [bad])


def test_drift_of_served_inputs_against_the_registered_reference(
    workspace: Client, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    version = workspace.register_model(
        fitted_pipeline, name="cancer", sample_input=X[:50], reference_data=X
    )
    workspace.set_alias("cancer", "champion", version.version)
    shifted = X.copy()
    shifted["mean radius"] = shifted["mean radius"] * 1.6
    shifted["worst texture"] = shifted["worst texture"] + 10
    with TestClient(create_app(FAST, client=workspace), headers=bearer(workspace)) as server:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # wait until the new champion serves
            if _predict(server, X[:1].to_dict(orient="records"), "w")["version"] == version.version:
                break
        records = shifted.to_dict(orient="records")
        for start in range(0, len(records), 50):
            _predict(server, records[start : start + 50], f"s{start}")
    result = workspace.drift("cancer", window_s=3600)
    drifted = set(result.drifted_columns)
    assert {"mean radius", "worst texture"} <= drifted
    assert "mean smoothness" not in drifted
