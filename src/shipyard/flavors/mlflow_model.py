"""Existing MLflow model directories (an ``MLmodel`` file plus its files).

The directory is stored as it is, so nothing of the original is lost, and
loaded without MLflow for the common cases: the ``sklearn`` flavor (pickle,
cloudpickle or skops) and ``python_function`` models with a custom
``loader_module`` shipped in ``code/``. A ``python_function`` model that
pickles an ``mlflow.pyfunc.PythonModel`` needs MLflow itself to unpickle;
that case says so.

A pickled model, a loader module and skops types beyond skops' defaults all
run code from the folder when loaded, so importing one needs ``trust`` (the
CLI's ``--trust``), as registering a pickle file does; the stored copy's hash
is verified on every later load.

The input signature comes from what the folder says, in this order: the
MLmodel ``signature``; the saved ``input_example`` (used like a sample input,
so outputs are described too); the columns the scikit-learn estimator
recorded when fitted (see ``signature_of_estimator``).
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

import numpy as np
import pandas as pd
import yaml

from shipyard.errors import InvalidInput, Remedy, SignatureError, UnsupportedModel
from shipyard.flavors.base import Flavor, LoadContext, Predictor
from shipyard.flavors.sklearn import SklearnPredictor, signature_of_estimator
from shipyard.flavors.skops_import import import_skops
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


_TRUST = Remedy("if you produced it yourself, allow it", "trust", "True")


@dataclass(frozen=True)
class MlflowModelDir:
    """Marks a folder as an MLflow model to import (``shipyard models import-mlflow``).

    ``trust`` allows a model that runs code from the folder when loaded (pickles,
    loader modules, skops types beyond skops' defaults).
    """

    path: Path
    trust: bool = False


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


def code_on_load(spec: dict[str, Any]) -> str | None:
    """Why loading this MLflow model runs code from its folder, or None when it does not.

    skops models are checked against their file when loaded (``_skops_types``).
    """
    flavors = spec["flavors"]
    if "sklearn" in flavors:
        fmt = flavors["sklearn"].get("serialization_format", "cloudpickle")
        return None if fmt == "skops" else f"it is a {fmt} file (serialization_format {fmt!r})"
    loader = flavors["python_function"].get("loader_module", "")
    if loader == "mlflow.sklearn":
        path = str(flavors["python_function"].get("model_path", "model.pkl"))
        return None if path.endswith(".skops") else f"its {path!r} is a pickle"
    return f"its loader_module {loader!r} runs when it is loaded"


def check_trusted(model: MlflowModelDir, spec: dict[str, Any]) -> None:
    """Refuse, before anything is written, a model that runs code on load unless trusted."""
    why = code_on_load(spec)
    if why is not None and not model.trust:
        raise InvalidInput(
            f"the MLflow model at {str(model.path)!r} runs code when loaded: {why}",
            remedy=_TRUST,
        )


def example_from_mlmodel(folder: Path, spec: dict[str, Any]) -> pd.DataFrame | np.ndarray | None:
    """The ``input_example`` MLflow saved beside the MLmodel, as a frame (None if absent).

    MLflow writes ``input_example.json`` and records it under
    ``saved_input_example_info``: a pandas "split" or "records" object for a
    DataFrame, a nested list for an ndarray.
    """
    info = spec.get("saved_input_example_info")
    if not isinstance(info, dict) or not info.get("artifact_path"):
        return None
    path = folder / str(info["artifact_path"])
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read the MLflow input example {str(path)!r}: {exc}") from exc
    kind = info.get("type")
    try:
        if kind == "ndarray":
            array = np.asarray(data.get("inputs", data) if isinstance(data, dict) else data)
            if array.ndim != 2:
                raise SignatureError(f"the MLflow input example has shape {array.shape}, not 2-D")
            return array
        if kind == "dataframe":
            if info.get("pandas_orient", "split") == "records" or isinstance(data, list):
                return pd.DataFrame.from_records(data)
            return pd.DataFrame(data["data"], columns=data["columns"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"the MLflow input example {str(path)!r} is malformed: {exc}") from exc
    return None  # a type Shipyard does not read (json object, sparse matrix): not a table


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


def _sklearn_conf(spec: dict[str, Any]) -> tuple[str, str] | None:
    """(file, serialization format) of a scikit-learn model, or None for other loaders."""
    flavors = spec["flavors"]
    if "sklearn" in flavors:
        conf = flavors["sklearn"]
        return (
            str(conf.get("pickled_model", "model.pkl")),
            str(conf.get("serialization_format", "cloudpickle")),
        )
    pyfunc = flavors["python_function"]
    if pyfunc.get("loader_module") == "mlflow.sklearn":
        path = str(pyfunc.get("model_path", "model.pkl"))
        return path, "skops" if path.endswith(".skops") else "pickle"
    return None


def _skops_types(model: MlflowModelDir, spec: dict[str, Any]) -> list[str]:
    """The non-default types a skops file needs, allowed only with ``trust``."""
    conf = _sklearn_conf(spec)
    if conf is None or conf[1] != "skops":
        return []
    sio = import_skops()
    try:
        untrusted = sorted(sio.get_untrusted_types(data=(model.path / conf[0]).read_bytes()))
    except Exception as exc:  # a missing file, bad bytes: skops raises anything
        raise InvalidInput(
            f"cannot read {conf[0]!r} of the MLflow sklearn model: {type(exc).__name__}: {exc}"
        ) from exc
    if untrusted and not model.trust:
        raise InvalidInput(
            f"the MLflow model at {str(model.path)!r} runs code when loaded: its skops file "
            f"needs types skops does not trust by default: {untrusted}",
            remedy=_TRUST,
        )
    return untrusted


def _load_sklearn(read: Callable[[str], bytes], conf: tuple[str, str], trusted: Any) -> Predictor:
    name, fmt = conf
    data = read(name)  # verified (or from the folder being imported): errors pass through
    try:
        if fmt == "skops":
            sio = import_skops()
            estimator = sio.loads(
                data, trusted=sio.get_untrusted_types(data=data) if trusted is None else trusted
            )
        else:
            estimator = pickle.loads(data)
    except Exception as exc:  # unpickling raises anything: a missing module, bad bytes, ...
        raise InvalidInput(
            f"cannot load {name!r} of the MLflow sklearn model: {type(exc).__name__}: {exc}"
        ) from exc
    return SklearnPredictor(estimator)


def _load_from_folder(folder: Path, spec: dict[str, Any], trusted: list[str] | None) -> Predictor:
    conf = _sklearn_conf(spec)
    if conf is not None:
        return _load_sklearn(lambda name: (folder / name).read_bytes(), conf, trusted)
    pyfunc = spec["flavors"]["python_function"]
    loader = pyfunc.get("loader_module", "")
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


def _import(model: MlflowModelDir) -> Predictor:
    """The model of a folder being imported, loaded once its trust was checked."""
    spec = read_mlmodel(model.path)
    check_trusted(model, spec)
    return _load_from_folder(model.path, spec, _skops_types(model, spec))


class MlflowFlavor(Flavor):
    name = "mlflow"
    priority = 5

    def can_save(self, model: Any) -> bool:
        return isinstance(model, MlflowModelDir)

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> dict[str, Any]:
        spec = read_mlmodel(model.path)
        check_trusted(model, spec)
        trusted = _skops_types(model, spec)
        shutil.copytree(model.path, folder, dirs_exist_ok=True)
        return {
            "mlflow_flavors": sorted(spec["flavors"]),
            "mlflow_version": str(spec.get("mlflow_version", "unknown")),
            "skops_trusted_types": trusted,
        }

    def load(self, tree: Tree, options: dict[str, Any], context: LoadContext) -> Predictor:
        spec = yaml.safe_load(tree.read_bytes(MLMODEL))
        # Versions imported before trusted types were recorded trusted the whole file.
        trusted = options.get("skops_trusted_types")
        conf = _sklearn_conf(spec)
        if conf is not None:
            return _load_sklearn(tree.read_bytes, conf, trusted)
        return _load_from_folder(tree.materialize(context.cache_dir), spec, trusted)

    def wrap(self, model: Any, signature: Signature) -> Predictor:
        return _import(model)

    def signature_from_model(self, model: Any) -> Signature | None:
        """The MLmodel's signature; failing that, and with no input example to describe
        the inputs better, the columns the estimator recorded."""
        spec = read_mlmodel(model.path)
        declared = signature_from_mlmodel(spec)
        if declared is not None or spec.get("saved_input_example_info"):
            return declared
        if _sklearn_conf(spec) is None:
            return None
        return signature_of_estimator(_import(model).raw)

    def example_input(self, model: Any) -> Any:
        return example_from_mlmodel(model.path, read_mlmodel(model.path))

    def requirements(self, model: Any, options: dict[str, Any]) -> list[str]:
        path = model.path / "requirements.txt"
        if not path.is_file():
            return []
        return [
            line.strip()
            for line in path.read_text().splitlines()
            if line.strip() and not line.startswith(("#", "-"))
        ]
