"""``shipyard models explain``, the card's importance section and drift beside importance."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sklearn.ensemble import HistGradientBoostingClassifier
from tests.conftest import bearer
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app
from shipyard.config import ServerSettings, StoreSettings
from shipyard.server.app import create_app

runner = CliRunner()


def invoke(home: Path, *args: str) -> str:
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_explain_card_and_drift_show_attributions(tmp_path: Path, breast_cancer) -> None:
    X, y = breast_cancer
    home = tmp_path / "ws"
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    settings = ServerSettings(prediction_log_flush_s=0.05, pipelines=False)
    with Client(settings=StoreSettings(home=home)) as client:
        client.register_model(model, name="m", sample_input=X[:50], reference_data=X)
        client.create_deployment("d", "m/1")
        with TestClient(create_app(settings, client=client), headers=bearer(client)) as server:
            rows = X.iloc[:200].to_dict(orient="records")
            assert server.post("/v1/deployments/d/predict", json={"inputs": rows}).is_success
            deadline = time.monotonic() + 10
            while len(client.predictions("d")) < 200 and time.monotonic() < deadline:
                time.sleep(0.05)
        importance = client.compute_importance("d")
    X.iloc[:5].to_csv(tmp_path / "rows.csv", index=False)

    answer = json.loads(
        invoke(
            home,
            "models",
            "explain",
            "models:/m/1",
            "--input",
            str(tmp_path / "rows.csv"),
            "--json",
        )
    )
    assert len(answer["explanations"]) == 5
    assert all(r["residual"] <= 1e-6 and r["method"] == "tree_shap" for r in answer["explanations"])
    text = invoke(home, "models", "explain", "models:/m/1", "-i", str(tmp_path / "rows.csv"))
    assert "tree_shap (exact), log_odds space" in text

    card = invoke(home, "models", "card", "m", "--version", "1")
    assert "Global feature importance" in card and importance.ranked()[0][0] in card

    drift = json.loads(invoke(home, "monitor", "drift", "d", "--json"))
    assert drift["importance"]["values"] == importance.values
    table = invoke(home, "monitor", "drift", "d")
    assert "importan" in table and "#1 " in table
