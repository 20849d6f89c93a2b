"""Existing MLflow model directories (an ``MLmodel`` file plus its files).

The directory is stored as it is, so nothing of the original is lost, and
loaded without MLflow for the common cases: the ``sklearn`` flavor (pickle,
cloudpickle or skops) and ``python_function`` models with a custom
``loader_module`` shipped in ``code/``. A ``python_function`` model that
pickles an ``mlflow.pyfunc.PythonModel`` needs MLflow itself to unpickle;
that case says so. Pickled MLflow models run code on load: import only
models you trust (you produced them, and their hash is verified here).
"""

from __future__ import annotations

import importlib
import json
import pickle
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from shipyard.errors import InvalidInput, SignatureError, UnsupportedModel
from shipyard.flavors.base import Flavor, LoadContext, Predictor
from shipyard.flavors.sklearn import SklearnPredictor
from shipyard.signature import ColumnSpec, Signature
from shipyard.store.artifacts import Tree

MLMODEL = "MLmodel"
_MLFLOW_TYPES = {
    "double": "float64",
    "float": "float64",
    "long": "int64",
    "integer": "int64",
    "boolean": "bool",
    "string": "string",
    "datetime": "datetime",
    "binary": "string",
}


@dataclass(frozen=True)
class MlflowModelDir:
    """Marks a folder as an MLflow model to import (``shipyard models import-mlflow``)."""

    path: Path


def read_mlmodel(folder: Path) -> dict[str, Any]:
    """The parsed ``MLmodel`` file, checked for a flavor Shipyard can load."""
    if not folder.is_dir():
        raise InvalidInput(f"{str(folder)!r} is not a directory; expected an MLflow model folder")
    spec_path = folder / MLMODEL
    if not spec_path.is_file():
        raise InvalidInput(f"{str(folder)!r} has no MLmodel file; is it an MLflow model folder?")
    try:
        spec = yaml.safe_load(spec_path.read_text())
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{spec_path} is not valid YAML: {exc}") from exc
    flavors = spec.get("flavors") if isinstance(spec, dict) else None
    if not isinstance(flavors, dict) or not ({"sklearn", "python_function"} & set(flavors)):
        found = sorted(flavors) if isinstance(flavors, dict) else []
        raise UnsupportedModel(
            f"MLflow model at {str(folder)!r} has flavors {found}; Shipyard imports the "
            "'sklearn' and 'python_function' flavors"
        )
    return spec


def signature_from_mlmodel(spec: dict[str, Any]) -> Signature | None:
    signature = spec.get("signature") or {}
    raw = signature.get("inputs")
    if not raw:
        return None
    columns = json.loads(raw) if isinstance(raw, str) else raw
    if len(columns) == 1 and columns[0].get("type") == "tensor":
        shape = columns[0].get("tensor-spec", {}).get("shape", [])
        if len(shape) != 2 or shape[1] < 1:
            raise SignatureError(f"MLflow tensor signature of shape {shape} is not a 2-D table")
        dtype = "float64" if "float" in columns[0]["tensor-spec"].get("dtype", "") else "int64"
        return Signature(
            tuple(ColumnSpec(f"f{i}", dtype, False) for i in range(shape[1])), None, "ndarray"
        )
    specs = []
    for index, column in enumerate(columns):
        name = column.get("name")
        if name is None:
            raise SignatureError(f"MLflow signature column {index} has no name")
        dtype = _MLFLOW_TYPES.get(column.get("type", ""), "string")
        specs.append(ColumnSpec(name, dtype, nullable=not column.get("required", True)))
    return Signature(tuple(specs), None, "dataframe")


class _ModuleLoaderPredictor(Predictor):
    """A ``loader_module._load_pyfunc(data_path)`` model."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, frame: pd.DataFrame) -> Any:
        return self.model.predict(frame)

    @property
    def raw(self) -> Any:
        return self.model


def _load_sklearn(read: Callable[[str], bytes], flavor: dict[str, Any]) -> Predictor:
    name = flavor.get("pickled_model", "model.pkl")
    data = read(name)  # verified (or from the folder being imported): errors pass through
    try:
        if flavor.get("serialization_format") == "skops":
            import skops.io as sio

            estimator = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
        else:
            estimator = pickle.loads(data)
    except Exception as exc:  # unpickling raises anything: a missing module, bad bytes, ...
        raise InvalidInput(
            f"cannot load {name!r} of the MLflow sklearn model: {type(exc).__name__}: {exc}"
        ) from exc
    return SklearnPredictor(estimator)


def _load_from_folder(folder: Path, spec: dict[str, Any]) -> Predictor:
    flavors = spec["flavors"]
    if "sklearn" in flavors:
        return _load_sklearn(lambda name: (folder / name).read_bytes(), flavors["sklearn"])
    pyfunc = flavors["python_function"]
    loader = pyfunc.get("loader_module", "")
    if loader == "mlflow.sklearn":
        return _load_sklearn(
            lambda name: (folder / name).read_bytes(),
            {"pickled_model": pyfunc.get("model_path", "model.pkl")},
        )
    if loader.startswith("mlflow."):
        try:
            import mlflow.pyfunc
        except ImportError as exc:
            raise UnsupportedModel(
                f"this MLflow model uses loader_module {loader!r}, which needs MLflow itself "
                "to load; install mlflow in this environment (pip install mlflow)"
            ) from exc
        return _ModuleLoaderPredictor(mlflow.pyfunc.load_model(str(folder)))
    code = pyfunc.get("code")
    if code:
        code_dir = str(folder / code)
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
    try:
        module = importlib.import_module(loader)
    except ImportError as exc:
        raise InvalidInput(f"MLflow loader_module {loader!r} cannot be imported: {exc}") from exc
    data = folder / pyfunc["data"] if pyfunc.get("data") else folder
    return _ModuleLoaderPredictor(module._load_pyfunc(str(data)))


class MlflowFlavor(Flavor):
    name = "mlflow"
    priority = 5

    def can_save(self, model: Any) -> bool:
        return isinstance(model, MlflowModelDir)

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> dict[str, Any]:
        spec = read_mlmodel(model.path)
        shutil.copytree(model.path, folder, dirs_exist_ok=True)
        return {
            "mlflow_flavors": sorted(spec["flavors"]),
            "mlflow_version": str(spec.get("mlflow_version", "unknown")),
        }

    def load(self, tree: Tree, options: dict[str, Any], context: LoadContext) -> Predictor:
        spec = yaml.safe_load(tree.read_bytes(MLMODEL))
        if "sklearn" in spec["flavors"]:
            return _load_sklearn(tree.read_bytes, spec["flavors"]["sklearn"])
        return _load_from_folder(tree.materialize(context.cache_dir), spec)

    def wrap(self, model: Any, signature: Signature) -> Predictor:
        return _load_from_folder(model.path, read_mlmodel(model.path))

    def signature_from_model(self, model: Any) -> Signature | None:
        return signature_from_mlmodel(read_mlmodel(model.path))

    def requirements(self, model: Any, options: dict[str, Any]) -> list[str]:
        path = model.path / "requirements.txt"
        if not path.is_file():
            return []
        return [
            line.strip()
            for line in path.read_text().splitlines()
            if line.strip() and not line.startswith(("#", "-"))
        ]
