"""Stored models load in a new interpreter that never saw the objects that made them.

The child process runs from an empty folder with no ``PYTHONPATH``: the test
modules and the helper modules next to them cannot be imported there, so the
only way a user class can come back is from the stored bundle.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow_dirs import LOADER_MODULE, write_loader_model
from pyfunc_models import ThresholdModel
from pyfunc_pkg.scorers import DoublingModel

from shipyard import Client

CHILD = textwrap.dedent(
    """
    import importlib.util
    import json
    import sys

    import numpy as np
    import pandas as pd

    import shipyard

    job = json.loads(sys.argv[1])
    user_modules = ["pyfunc_models", "pyfunc_pkg", "mlflow_dirs", job["loader_module"]]
    report = {
        "importable_before": [m for m in user_modules if importlib.util.find_spec(m)],
        "models": {},
    }
    X = np.load(job["inputs"])
    for key, uri in job["uris"].items():
        try:
            model = shipyard.load_model(uri)
            frame = pd.DataFrame(X, columns=model.signature.columns)
            np.save(f"{job['out']}/{key}.npy", np.asarray(model.predict(frame)))
            if hasattr(model, "predict_proba"):
                np.save(f"{job['out']}/{key}.proba.npy", model.predict_proba(X))
            module = sys.modules.get(type(model.raw).__module__)
            report["models"][key] = {
                "ok": True,
                "class": type(model.raw).__module__ + "." + type(model.raw).__qualname__,
                "module_file": getattr(module, "__file__", None),
            }
        except Exception as exc:
            report["models"][key] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(report))
    """
)


def _child_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env.pop("PYTHONPATH", None)
    env["SHIPYARD_HOME"] = str(home)
    return env


def _load_in_fresh_process(
    tmp_path: Path, home: Path, uris: dict[str, str], X: pd.DataFrame
) -> dict:
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    np.save(tmp_path / "inputs.npy", X.to_numpy())
    job = {
        "uris": uris,
        "inputs": str(tmp_path / "inputs.npy"),
        "out": str(out),
        "loader_module": LOADER_MODULE,
    }
    result = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(job)],
        cwd=empty,
        env=_child_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["out"] = out
    return report


@pytest.mark.slow
def test_models_load_in_a_fresh_process(
    tmp_path: Path, sqlite_client: Client, breast_cancer, fitted_pipeline
) -> None:
    X, _ = breast_cancer
    X = X.iloc[:200]
    client = sqlite_client
    artifacts = tmp_path / "scale"
    artifacts.mkdir()
    (artifacts / "scale.json").write_text('{"scale": 0.5}')
    user_model = ThresholdModel({"mean radius": -1.0, "mean texture": -0.25}, threshold=-10.0)
    reference = ThresholdModel(user_model.weights, threshold=-10.0)
    reference.load(str(artifacts))
    mlflow_dir = tmp_path / "mlflow-loader"
    threshold = float(X["mean radius"].median())
    write_loader_model(mlflow_dir, X, column="mean radius", threshold=threshold)

    uris = {
        "sklearn": client.register_model(fitted_pipeline, name="sk", sample_input=X[:20]).uri,
        "pyfunc": client.register_model(
            user_model, name="user", sample_input=X[:20], artifacts=str(artifacts)
        ).uri,
        "pyfunc_package": client.register_model(
            DoublingModel("mean area"), name="pkg", sample_input=X[:20]
        ).uri,
        "mlflow_loader": client.import_mlflow_model(mlflow_dir, name="mlf", trust=True).uri,
    }
    expected = {
        "sklearn": fitted_pipeline.predict(X),
        "pyfunc": reference.predict(X),
        "pyfunc_package": X["mean area"].to_numpy() * 2.0,
        "mlflow_loader": (X["mean radius"] > threshold).to_numpy().astype(np.int64),
    }
    expected_proba = {
        "sklearn": fitted_pipeline.predict_proba(X),
        "pyfunc": reference.predict_proba(X),
    }

    report = _load_in_fresh_process(tmp_path, client.settings.home, uris, X)

    assert report["importable_before"] == [], "the child could import the test helpers"
    failures = {k: v["error"] for k, v in report["models"].items() if not v["ok"]}
    assert not failures
    out: Path = report["out"]
    for key, values in expected.items():
        assert np.array_equal(np.load(out / f"{key}.npy", allow_pickle=False), values), key
    for key, values in expected_proba.items():
        assert np.allclose(np.load(out / f"{key}.proba.npy"), values, atol=1e-9), key
    assert sorted(p.name for p in out.glob("*.proba.npy")) == [
        "pyfunc.proba.npy",
        "sklearn.proba.npy",
    ]
    models = report["models"]
    assert models["sklearn"]["class"] == "sklearn.pipeline.Pipeline"
    assert models["pyfunc"]["class"] == "pyfunc_models.ThresholdModel"
    assert models["pyfunc_package"]["class"] == "pyfunc_pkg.scorers.DoublingModel"
    cache = str(client.settings.cache_dir())
    loader_file = models["mlflow_loader"]["module_file"]
    assert loader_file is not None and loader_file.startswith(cache), loader_file
