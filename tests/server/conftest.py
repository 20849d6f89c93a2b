"""A workspace with registered models and deployments, and an in-process server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings, StoreSettings
from shipyard.deploy.policy import ServingConfig
from shipyard.server.app import create_app
from tests.conftest import bearer
from tests.server.models import Categorical, Explodes


@pytest.fixture
def workspace(tmp_path: Path, fitted_pipeline, breast_cancer) -> Iterator[Client]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = breast_cancer
    client = Client(settings=StoreSettings(home=tmp_path / "ws", user="tester"))
    client.register_model(fitted_pipeline, name="cancer", sample_input=X[:50])
    weak = make_pipeline(StandardScaler(), LogisticRegression(C=0.001)).fit(X, y)
    client.register_model(weak, name="cancer", sample_input=X[:50])
    client.set_alias("cancer", "champion", 1)
    client.create_deployment("cancer", "cancer@champion")
    client.register_model(Explodes(), name="explodes", sample_input=pd.DataFrame({"x": [1.0, 2.0]}))
    client.create_deployment(
        "explodes", "explodes/1", serving=ServingConfig(max_batch_size=8, max_wait_ms=1)
    )
    sample = pd.DataFrame({"color": ["red", "blue", "red"], "amount": [1.0, None, 3.0]})
    client.register_model(Categorical(), name="colors", sample_input=sample)
    client.create_deployment("colors", "colors", serving=ServingConfig(batching=False))
    yield client
    client.close()


@pytest.fixture
def server(workspace: Client) -> Iterator[TestClient]:
    app = create_app(
        ServerSettings(poll_interval_s=0.05, max_body_bytes=64 * 1024), client=workspace
    )
    with TestClient(app, headers=bearer(workspace)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def records(breast_cancer) -> list[dict]:
    X, _ = breast_cancer
    return X[:5].to_dict(orient="records")
