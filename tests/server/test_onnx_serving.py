"""An optimized (ONNX) version served like any version: three protocols, a canary over
its scikit-learn source, and a cold load that never imports scikit-learn."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings, StoreSettings
from shipyard.server.app import create_app
from tests.conftest import bearer
from tests.server.test_rollouts import FAST, Traffic, _spec, _wait_for_status

GATE = 1e-5


@pytest.fixture
def optimized(tmp_path: Path, breast_cancer) -> Iterator[tuple[Client, object]]:
    """``cancer`` v1: HistGradientBoosting (scikit-learn); v2: its ONNX version."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = breast_cancer
    model = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(X, y)
    client = Client(settings=StoreSettings(home=tmp_path / "ws", user="tester"))
    client.register_model(model, name="cancer", sample_input=X[:50], reference_data=X)
    assert client.optimize("models:/cancer/1").version.version == 2
    client.set_alias("cancer", "champion", 1)
    client.set_alias("cancer", "fast", 2)
    yield client, model
    client.close()


def test_the_onnx_version_answers_like_its_source_on_every_protocol(
    optimized, breast_cancer
) -> None:
    client, model = optimized
    X, _ = breast_cancer
    client.create_deployment("cancer", "cancer@fast")
    rows = X[:16]
    expected = model.predict_proba(rows)
    app = create_app(ServerSettings(poll_interval_s=0.05), client=client)
    with TestClient(app, headers=bearer(client)) as server:
        native = server.post(
            "/v1/deployments/cancer/predict", json={"inputs": rows.to_dict(orient="records")}
        ).json()
        assert native["version"] == 2
        assert np.abs(np.array(native["probabilities"]) - expected).max() <= GATE
        assert native["predictions"] == model.predict(rows).tolist()

        tensor = {"name": "input-0", "shape": list(rows.shape), "datatype": "FP64"}
        body = {"inputs": [{**tensor, "data": rows.values.tolist()}]}
        oip = server.post("/v2/models/cancer/infer", json=body).json()
        outputs = {o["name"]: o for o in oip["outputs"]}
        assert oip["model_version"] == "2"
        got = np.array(outputs["predict_proba"]["data"]).reshape(expected.shape)
        assert np.abs(got - expected).max() <= GATE

        body = {
            "dataframe_split": {"columns": list(X.columns), "data": rows.values.tolist()},
            "params": {"predict_fn": "predict_proba"},
        }
        mlflow = server.post("/v1/deployments/cancer/invocations", json=body).json()
        assert np.abs(np.array(mlflow["predictions"]) - expected).max() <= GATE

        bad = server.post("/v1/deployments/cancer/predict", json={"inputs": [{"x": 1}]})
        assert bad.status_code == 422  # the source's signature validates the ONNX version too
    # every answer went to the prediction log, as for any version
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(client.predictions("cancer")) < 48:
        time.sleep(0.1)
    assert len(client.predictions("cancer")) >= 48


@pytest.mark.slow
def test_a_canary_of_the_onnx_version_over_its_source_agrees(optimized, breast_cancer) -> None:
    client, _ = optimized
    X, _ = breast_cancer
    client.create_deployment("cancer", "cancer@champion")
    app = create_app(FAST, client=client)
    with (
        TestClient(app, headers=bearer(client)) as served,
        Traffic(served, X.to_dict(orient="records")) as traffic,
    ):
        client.start_rollout("cancer", _spec("cancer@fast"))
        status = _wait_for_status(client, {"promoted", "rolled_back"})
    record = client.rollout("cancer")
    assert status == "promoted", record.reason
    assert set(traffic.statuses) == {200} and traffic.versions[2] > 0
    agreements = [
        check["value"]
        for event in client.rollout_events(record.id)
        for check in event.details.get("checks", [])
        if check["name"] == "agreement" and check["value"] is not None
    ]
    assert agreements and min(agreements) >= 0.99, agreements


@pytest.mark.slow
def test_loading_the_onnx_version_by_alias_does_not_import_scikit_learn(
    optimized, tmp_path: Path
) -> None:
    client, model = optimized
    program = (
        "import sys\n"
        "import pandas as pd\n"
        "import shipyard\n"
        "model = shipyard.load_model('models:/cancer@fast')\n"
        "row = pd.DataFrame([[1.0] * 30], columns=model.version.signature.columns)\n"
        "print(model.predict_proba(row)[0, 1])\n"
        "assert 'sklearn' not in sys.modules, 'scikit-learn was imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env["SHIPYARD_HOME"] = str(tmp_path / "ws")
    env["SHIPYARD_USER"] = "tester"
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    import pandas as pd

    columns = client.get_model_version("cancer", 2).signature.columns
    row = pd.DataFrame([[1.0] * 30], columns=columns)
    assert abs(float(done.stdout.strip()) - model.predict_proba(row)[0, 1]) <= GATE
