"""Error bodies carry no traceback, file path or SQL, whatever failed behind them.

A model that raises with a path and SQL in its message, and a metadata store whose
table is gone (SQLAlchemy's error text holds the statement), answered through every
protocol and the control API.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings
from shipyard.server.app import create_app
from tests.conftest import bearer
from tests.server.models import Leaky

ABSOLUTE_PATH = re.compile(r"(?<![\w.:])/(?:[\w.-]+/)+[\w.-]+")


def _assert_clean(body: str, home: Path) -> None:
    assert "Traceback" not in body and 'File "' not in body, body
    assert str(home.resolve()) not in body and str(home) not in body, body
    assert "SELECT" not in body and "[SQL" not in body and "sqlite3" not in body, body
    assert not ABSOLUTE_PATH.search(body.replace("/v1/", "").replace("/v2/", "")), body


@pytest.fixture
def leaky(workspace: Client) -> Iterator[TestClient]:
    home = workspace.settings.home
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    workspace.register_model(Leaky(str(home.resolve())), name="leaky", sample_input=frame)
    workspace.create_deployment("leaky", "leaky/1")
    app = create_app(ServerSettings(poll_interval_s=0.05), client=workspace)
    with TestClient(app, raise_server_exceptions=False, headers=bearer(workspace)) as client:
        yield client


def test_a_failing_model_answers_500_without_its_message(
    leaky: TestClient, workspace: Client, caplog: pytest.LogCaptureFixture
) -> None:
    home = workspace.settings.home
    requests = [
        ("/v1/deployments/leaky/predict", {"inputs": [{"x": 13.0}]}),
        (
            "/v2/models/leaky/infer",
            {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [13.0]}]},
        ),
        ("/v1/deployments/leaky/invocations", {"dataframe_records": [{"x": 13.0}]}),
    ]
    for path, body in requests:
        response = leaky.post(path, json=body, headers={"x-request-id": "leak-1"})
        assert response.status_code == 500, (path, response.text)
        assert "leak-1" in response.text and "RuntimeError" in response.text
        _assert_clean(response.text, home)
    assert "[SQL: SELECT hash FROM tokens]" in caplog.text  # the operator still sees it all


def test_a_broken_store_answers_500_without_sql_or_paths(
    leaky: TestClient, workspace: Client, caplog: pytest.LogCaptureFixture
) -> None:
    home = workspace.settings.home
    with sqlite3.connect(home / "shipyard.db") as db:  # the store breaks under the server
        db.execute("ALTER TABLE models RENAME TO models_gone")
        db.execute("ALTER TABLE deployments RENAME TO deployments_gone")
    for path in ("/api/models", "/api/models/leaky", "/api/deployments", "/api/deployments/x"):
        response = leaky.get(path, headers={"x-request-id": "store-1"})
        assert response.status_code == 500, (path, response.text)
        error = response.json()["error"]
        assert error["type"] == "InternalError" and "store-1" in error["message"]
        _assert_clean(response.text, home)
    assert "store-1" in caplog.text
