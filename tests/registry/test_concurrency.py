"""Several processes registering versions of one model at once: 1..N, no gaps."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shipyard.config import StoreSettings
from shipyard.sdk.client import Client

WORKER = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from shipyard import Client
    rng = np.random.default_rng(int(sys.argv[1]))
    X = rng.normal(size=(60, 4)); y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    client = Client()
    go = sys.argv[2]
    while not os.path.exists(go):
        time.sleep(0.005)
    for _ in range(int(sys.argv[3])):
        client.register_model(model, name="shared", sample_input=X[:10])
""")


@pytest.mark.slow
def test_four_processes_register_fifty_versions_each(
    settings: StoreSettings, tmp_path: Path
) -> None:
    Client(settings=settings).close()  # migrate once up front, as a deployed store would be
    env = {**os.environ, "SHIPYARD_HOME": str(settings.home)}
    if settings.db_url:
        env["SHIPYARD_DB_URL"] = settings.db_url
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(i), str(go), "50"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    go.touch()
    for worker in workers:
        _, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr
    with Client(settings=settings) as client:
        versions = [v.version for v in client.list_model_versions("shared")]
        assert versions == list(range(1, 201))
        assert client.get_model("shared").latest_version == 200
        assert len({v.sha256 for v in client.list_model_versions("shared")}) >= 4


@pytest.mark.slow
def test_processes_starting_on_an_empty_store_migrate_it_once(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    code = "from shipyard import Client; Client().list_models()"
    env = {**os.environ, "SHIPYARD_HOME": str(home)}
    workers = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr
