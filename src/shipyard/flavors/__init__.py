"""Model formats, registered by name.

``register_flavor(MyFlavor())`` is all a new format needs; ``flavor_for``
picks the first registered flavor (by priority) that can save an object.
"""

from __future__ import annotations

from typing import Any

from shipyard.errors import InvalidInput, UnsupportedModel
from shipyard.flavors.base import Flavor, LoadContext, Predictor
from shipyard.flavors.mlflow_model import MlflowFlavor, MlflowModelDir
from shipyard.flavors.onnx import OnnxFlavor
from shipyard.flavors.pyfunc import PyfuncFlavor, PythonModel
from shipyard.flavors.sklearn import SklearnFlavor

__all__ = [
    "Flavor",
    "LoadContext",
    "MlflowModelDir",
    "Predictor",
    "PythonModel",
    "all_flavors",
    "flavor_for",
    "get_flavor",
    "register_flavor",
]

_FLAVORS: dict[str, Flavor] = {}


def register_flavor(flavor: Flavor) -> None:
    _FLAVORS[flavor.name] = flavor


def get_flavor(name: str) -> Flavor:
    try:
        return _FLAVORS[name]
    except KeyError:
        raise InvalidInput(f"unknown flavor {name!r}; known: {sorted(_FLAVORS)}") from None


def all_flavors() -> list[Flavor]:
    return sorted(_FLAVORS.values(), key=lambda f: f.priority)


def flavor_for(model: Any) -> Flavor:
    for flavor in all_flavors():
        if flavor.can_save(model):
            return flavor
    raise UnsupportedModel(
        f"no flavor can save an object of type "
        f"{type(model).__module__}.{type(model).__qualname__}; "
        f"supported: scikit-learn estimators, ONNX models, objects with load(path) and "
        f"predict(df) methods, MLflow model folders (flavors: {sorted(_FLAVORS)})"
    )


for _flavor in (SklearnFlavor(), OnnxFlavor(), PyfuncFlavor(), MlflowFlavor()):
    register_flavor(_flavor)
