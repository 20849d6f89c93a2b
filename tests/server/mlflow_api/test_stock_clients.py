"""Unmodified MLflow clients (2.x and 3.x, each in its own venv) use ``shipyard serve``
as their tracking server; the version they register deploys and serves in Shipyard.

The venvs are made once under ``.bench/mlflow-client-<version>`` by the benchmark
helper (``benchmarks/serving/peers.py``) and reused. The mirror has no
``mlflow-skinny``/``mlflow-tracing`` 3.18.0, so 3.17.2 is the newest 3.x client
that installs here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard import Client
from shipyard.config import StoreSettings
from tests.server.processes import start_server, stop_server

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("stock_client.py")
CLIENT_VERSIONS = ["2.22.5", "3.17.2"]

#: The first run builds the client's venv (about a minute), then the script runs.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _venv(version: str) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks" / "serving"))
    try:
        import peers  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    return Path(peers.ensure_mlflow_client_venv(version, lambda message: None))


def _run_client(venv: Path, url: str, token: str, *args: str) -> dict:
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_TRACKING_TOKEN": token,
        # fail fast instead of the client's minutes of retries if something answers 5xx
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_DISABLE_TELEMETRY": "true",  # no calls out of the machine
        "DO_NOT_TRACK": "1",
    }
    done = subprocess.run(
        [str(venv / "bin" / "python"), str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, f"client failed:\n{done.stdout}\n{done.stderr[-4000:]}"
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def _native_model() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in X.columns]
    return LogisticRegression(max_iter=500).fit(X, y), X


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Client]:
    with Client(settings=StoreSettings(home=tmp_path / "ws", user="tester")) as client:
        yield client


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_a_stock_mlflow_client_tracks_registers_and_loads(version: str, workspace: Client) -> None:
    venv = _venv(version)
    native, rows = _native_model()
    workspace.register_model(native, name="iris-native", sample_input=rows[:20])
    scientist = workspace.create_token(f"mlflow-{version}", "scientist").token
    deployer = workspace.create_token(f"deploy-{version}", "deployer").token
    # MLflow 2's sklearn flavor pickles by default: this server is told to trust it.
    trust = {"SHIPYARD_TRUST_UPLOADED_CODE": "true"} if version.startswith("2.") else {}
    process, url = start_server(workspace.settings.home, auth=True, env=trust)
    try:
        denied = _run_client(venv, url, "shp_" + "A" * 36, "wrong-token")
        assert denied["error_code"] == "UNAUTHENTICATED", denied
        seen = _run_client(venv, url, scientist)
        assert seen["mlflow"] == version
        assert seen["predicted"] == seen["expected"]
        if not version.startswith("2."):  # MLflow 2's sklearn flavor cannot read skops
            assert seen["native_predicted"] == seen["expected"]
        assert seen["alias_version"] == seen["version"] == 1 and seen["alias_gone"]
        assert seen["found_runs"] == [seen["run_id"]] and seen["no_runs"] == 0
        assert seen["params"] == {"C": "1.0", "solver": "lbfgs", "max_iter": "500"}
        assert seen["metrics"] == {"acc": 0.97, "loss": 1 / 3, "f1": 0.96, "auc": 0.99}
        assert seen["history"] == [1.0, 0.5, 1 / 3]
        assert seen["tags"] == {"team": "fraud", "stage": "test"}
        assert seen["status"] == "FINISHED" and seen["datasets"] == ["iris"]
        assert "notes.txt" in seen["artifacts"] and seen["notes"] == "trained on iris\n"
        assert seen["models"] == ["iris-native", "iris-stock"]
        # The registered version is a Shipyard version: deploy it and predict.
        registered = workspace.get_model_version("iris-stock", 1)
        assert registered.flavor == "mlflow" and registered.run_id == seen["run_id"]
        assert [c.name for c in registered.signature.inputs] == list(seen["rows"][0])
        workspace.create_deployment("iris", "iris-stock/1")
        headers = {"authorization": f"Bearer {deployer}"}
        deadline = time.monotonic() + 60
        while True:
            answer = httpx.post(
                f"{url}/v1/deployments/iris/predict",
                json={"inputs": seen["rows"]},
                headers=headers,
                timeout=10,
            )
            if answer.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert answer.status_code == 200, answer.text
        assert [int(p) for p in answer.json()["predictions"]] == seen["expected"]
    finally:
        stop_server(process)
