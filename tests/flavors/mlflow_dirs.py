"""MLflow model folders written by hand, file for file the way MLflow 2.x writes them.

MLflow is not a test dependency: these builders reproduce ``mlflow.sklearn.save_model``
(an ``sklearn`` flavor plus a ``python_function`` flavor with ``loader_module:
mlflow.sklearn``) and ``mlflow.pyfunc.save_model(loader_module=..., data_path=...,
code_paths=[...])`` so that the import is tested on the real layout. The layout was
checked against folders real MLflow wrote (``input_example.json`` plus
``serving_input_example.json``, recorded under ``saved_input_example_info``; the
``serialization_format`` and ``pickled_model`` of the sklearn flavor).
"""

from __future__ import annotations

import importlib.metadata
import json
import pickle
import platform
import uuid
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import skops.io as sio
import yaml

MLFLOW_VERSION = "2.12.1"
LOADER_MODULE = "shipyard_test_mlflow_loader"
_MLFLOW_TYPES = {"f": "double", "i": "long", "b": "boolean", "O": "string"}

LOADER_SOURCE = """
import json
import os

import numpy as np


class _ThresholdModel:
    def __init__(self, column, threshold):
        self.column = column
        self.threshold = threshold

    def predict(self, frame):
        return (frame[self.column].to_numpy() > self.threshold).astype(np.int64)


def _load_pyfunc(data_path):
    with open(os.path.join(data_path, "params.json")) as handle:
        params = json.load(handle)
    return _ThresholdModel(params["column"], params["threshold"])
"""


def _version(package: str) -> str:
    return importlib.metadata.version(package)


def _signature(frame: pd.DataFrame, output_type: str) -> dict[str, Any]:
    inputs = [
        {"type": _MLFLOW_TYPES[frame[c].dtype.kind], "name": str(c), "required": True}
        for c in frame.columns
    ]
    return {
        "inputs": json.dumps(inputs),
        "outputs": json.dumps([{"type": output_type, "required": True}]),
        "params": None,
    }


def _environment_files(folder: Path, packages: list[str]) -> list[str]:
    python = platform.python_version()
    requirements = [f"mlflow=={MLFLOW_VERSION}"] + [f"{p}=={_version(p)}" for p in packages]
    (folder / "requirements.txt").write_text("\n".join(requirements) + "\n")
    conda = {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip<=24.0", {"pip": requirements}],
        "name": "mlflow-env",
    }
    (folder / "conda.yaml").write_text(yaml.safe_dump(conda, default_flow_style=False))
    python_env = {
        "python": python,
        "build_dependencies": ["pip==24.0", "setuptools==69.5.1", "wheel==0.43.0"],
        "dependencies": ["-r requirements.txt"],
    }
    (folder / "python_env.yaml").write_text(yaml.safe_dump(python_env, default_flow_style=False))
    return requirements


def _mlmodel(
    folder: Path,
    flavors: dict[str, Any],
    signature: dict[str, Any] | None,
    example_info: dict[str, Any] | None = None,
) -> None:
    spec: dict[str, Any] = {
        "artifact_path": "model",
        "flavors": flavors,
        "mlflow_version": MLFLOW_VERSION,
        "model_size_bytes": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
        "model_uuid": uuid.uuid4().hex,
        "run_id": uuid.uuid4().hex,
        "utc_time_created": "2024-05-02 09:30:12.345678",
    }
    if signature is not None:
        spec["signature"] = signature
    if example_info is not None:
        spec["saved_input_example_info"] = example_info
    (folder / "MLmodel").write_text(yaml.safe_dump(spec, default_flow_style=False))


def _env() -> dict[str, str]:
    return {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}


def _input_example(folder: Path, example: pd.DataFrame | np.ndarray) -> dict[str, Any]:
    """``input_example.json`` (and the serving copy) as MLflow writes them; returns the info."""
    if isinstance(example, np.ndarray):
        (folder / "input_example.json").write_text(json.dumps(example.tolist()))
        serving = {"inputs": example.tolist()}
        info: dict[str, Any] = {"type": "ndarray"}
    else:
        split = example.to_dict(orient="split")
        split.pop("index")
        (folder / "input_example.json").write_text(json.dumps(split))
        serving = {"dataframe_split": split}
        info = {"type": "dataframe", "pandas_orient": "split"}
    (folder / "serving_input_example.json").write_text(json.dumps(serving, indent=2))
    return {
        "artifact_path": "input_example.json",
        "serving_input_path": "serving_input_example.json",
        **info,
    }


def write_sklearn_model(
    folder: Path,
    estimator: Any,
    sample: pd.DataFrame,
    *,
    with_sklearn_flavor: bool = True,
    with_signature: bool = True,
    input_example: pd.DataFrame | np.ndarray | None = None,
    serialization_format: str = "cloudpickle",
) -> list[str]:
    """What ``mlflow.sklearn.save_model(estimator, folder, signature=..., input_example=...,
    serialization_format=...)`` writes (MLflow 2.x's default format is cloudpickle).
    ``with_signature=False`` and no ``input_example`` is the plain ``save_model(model,
    path)``. Returns the requirements lines."""
    folder.mkdir(parents=True)
    payload = "model.skops" if serialization_format == "skops" else "model.pkl"
    dumps = {"cloudpickle": cloudpickle.dumps, "pickle": pickle.dumps, "skops": sio.dumps}
    (folder / payload).write_bytes(dumps[serialization_format](estimator))
    packages = ["cloudpickle", "numpy", "scikit-learn", "scipy"]
    requirements = _environment_files(folder, packages)
    example_info = _input_example(folder, input_example) if input_example is not None else None
    flavors: dict[str, Any] = {
        "python_function": {
            "env": _env(),
            "loader_module": "mlflow.sklearn",
            "model_path": payload,
            "predict_fn": "predict",
            "python_version": platform.python_version(),
        }
    }
    if with_sklearn_flavor:
        flavors["sklearn"] = {
            "code": None,
            "pickled_model": payload,
            "serialization_format": serialization_format,
            "sklearn_version": _version("scikit-learn"),
        }
    _mlmodel(folder, flavors, _signature(sample, "long") if with_signature else None, example_info)
    return requirements


def write_loader_model(
    folder: Path, sample: pd.DataFrame, *, column: str, threshold: float
) -> list[str]:
    """What ``mlflow.pyfunc.save_model(folder, loader_module=LOADER_MODULE,
    data_path=<dir with params.json>, code_paths=[<LOADER_MODULE>.py])`` writes."""
    folder.mkdir(parents=True)
    (folder / "code").mkdir()
    (folder / "code" / f"{LOADER_MODULE}.py").write_text(LOADER_SOURCE)
    (folder / "data").mkdir()
    params = {"column": column, "threshold": threshold}
    (folder / "data" / "params.json").write_text(json.dumps(params))
    requirements = _environment_files(folder, ["cloudpickle", "numpy"])
    flavors = {
        "python_function": {
            "code": "code",
            "data": "data",
            "env": _env(),
            "loader_module": LOADER_MODULE,
            "python_version": platform.python_version(),
        }
    }
    _mlmodel(folder, flavors, _signature(sample, "long"))
    return requirements


def write_mlmodel(folder: Path, flavors: dict[str, Any]) -> None:
    """A bare MLmodel with the given flavors (for the unsupported-flavor cases)."""
    folder.mkdir(parents=True, exist_ok=True)
    _mlmodel(folder, flavors, None)
