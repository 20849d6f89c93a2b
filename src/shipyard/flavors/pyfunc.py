"""Python-function models: any user class with ``load(path)`` and ``predict(df)``.

The instance is stored with cloudpickle. Classes defined in a notebook, a
script or any user module or package outside site-packages travel by value,
so loading works in a fresh process and two versions whose module has the
same name do not share one class; the module's source file is also copied
into the bundle's ``code/`` folder (put on ``sys.path`` at load, as are
``code_paths``). Optional ``artifacts`` (a file or folder) are copied in and
their local path handed to ``load``. Like MLflow's python_function, this runs
the user's own code on load: register only code you trust.
"""

from __future__ import annotations

import logging
import shutil
import sys
import sysconfig
import threading
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.flavors.base import Flavor, LoadContext, Predictor, pinned
from shipyard.signature import OutputSpec, Signature, infer_output_spec
from shipyard.store.artifacts import Tree

PICKLE_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"
CODE_DIR = "code"

logger = logging.getLogger(__name__)
_BY_VALUE_LOCK = threading.Lock()


class PythonModel:
    """Optional base class for Python-function models (duck typing works too)."""

    def load(self, path: str) -> None:
        """Read weights or lookups from ``path`` (the copied ``artifacts``)."""

    def predict(self, frame: pd.DataFrame) -> Any:
        raise NotImplementedError


class PyfuncPredictor(Predictor):
    def __init__(self, model: Any) -> None:
        self.model = model
        classes = getattr(model, "classes", None)
        if classes is None:
            classes = getattr(model, "classes_", None)  # e.g. a numpy array
        self.classes = (
            tuple(c.item() if isinstance(c, np.generic) else c for c in classes)
            if classes is not None
            else None
        )

    def predict(self, frame: pd.DataFrame) -> Any:
        return self.model.predict(frame)

    @property
    def supports_proba(self) -> bool:
        return callable(getattr(self.model, "predict_proba", None))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(frame))

    @property
    def raw(self) -> Any:
        return self.model


def _user_source(module_name: str) -> Path | None:
    """The source file of a user module (not stdlib, not installed), dotted or not."""
    module = sys.modules.get(module_name)
    filename = getattr(module, "__file__", None)
    if module is None or filename is None or module_name == "__main__":
        return None
    path = Path(filename).resolve()
    installed = {
        Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "purelib", "platlib")
    }
    if any(root in path.parents for root in installed) or path.suffix != ".py":
        return None
    return path


def _is_user_module(module_name: str) -> Path | None:
    """The source file of a top-level user module (copied into ``code/``)."""
    return None if "." in module_name else _user_source(module_name)


def _dumps(model: Any) -> bytes:
    """cloudpickle, with the model's user package pickled by value, not by import name."""
    module_name = type(model).__module__
    top = module_name.split(".")[0]
    package = sys.modules.get(top)
    if top == "shipyard" or package is None or _user_source(module_name) is None:
        return bytes(cloudpickle.dumps(model))
    with _BY_VALUE_LOCK:  # cloudpickle's registry is process-wide
        registered = top in cloudpickle.list_registry_pickle_by_value()
        if not registered:
            cloudpickle.register_pickle_by_value(package)
        try:
            return bytes(cloudpickle.dumps(model))
        except Exception:
            # Something the module's globals hold cannot travel by value (a lock, a
            # connection): fall back to pickling by import name, with code/ and code_paths.
            logger.debug("pickling %s by value failed; pickling by reference", module_name)
        finally:
            if not registered:
                cloudpickle.unregister_pickle_by_value(package)
    return bytes(cloudpickle.dumps(model))


class PyfuncFlavor(Flavor):
    name = "pyfunc"
    priority = 90

    def can_save(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None)) and callable(getattr(model, "load", None))

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> dict[str, Any]:
        code = folder / CODE_DIR
        source = _is_user_module(type(model).__module__)
        if source is not None:
            code.mkdir(exist_ok=True)
            shutil.copy2(source, code / source.name)
        for extra in options.get("code_paths", []) or []:
            path = Path(extra)
            if not path.exists():
                raise InvalidInput(f"code path {str(path)!r} does not exist")
            code.mkdir(exist_ok=True)
            if path.is_dir():
                shutil.copytree(path, code / path.name, dirs_exist_ok=True)
            else:
                shutil.copy2(path, code / path.name)
        artifacts = options.get("artifacts")
        if artifacts:
            path = Path(artifacts)
            if path.is_dir():
                shutil.copytree(path, folder / ARTIFACTS_DIR)
            elif path.is_file():
                (folder / ARTIFACTS_DIR).mkdir()
                shutil.copy2(path, folder / ARTIFACTS_DIR / path.name)
            else:
                raise InvalidInput(f"artifacts path {str(path)!r} does not exist")
        try:
            (folder / PICKLE_FILE).write_bytes(_dumps(model))
        except Exception as exc:
            raise InvalidInput(
                f"cannot pickle {type(model).__name__} with cloudpickle: {exc}"
            ) from exc
        return {"class": f"{type(model).__module__}.{type(model).__qualname__}"}

    def load(self, tree: Tree, options: dict[str, Any], context: LoadContext) -> Predictor:
        root = tree.materialize(context.cache_dir)
        code = root / CODE_DIR
        if code.is_dir() and str(code) not in sys.path:
            sys.path.insert(0, str(code))
        try:
            model = cloudpickle.loads((root / PICKLE_FILE).read_bytes())
        except (ImportError, AttributeError) as exc:
            raise InvalidInput(
                f"cannot load Python model {options.get('class')!r}: {exc}; register it with "
                "code_paths=[...] naming the modules it needs"
            ) from exc
        model.load(str(root / ARTIFACTS_DIR))
        return PyfuncPredictor(model)

    def wrap(self, model: Any, signature: Signature) -> Predictor:
        return PyfuncPredictor(model)

    def describe_outputs(
        self,
        model: Any,
        saved: Path,
        options: dict[str, Any],
        frame: pd.DataFrame,
        signature: Signature,
    ) -> OutputSpec:
        """Round-trip through the saved files, so a model that cannot reload is refused now."""
        restored = cloudpickle.loads((saved / PICKLE_FILE).read_bytes())
        restored.load(str(saved / ARTIFACTS_DIR))
        predictor = PyfuncPredictor(restored)
        return infer_output_spec(predictor.predict(frame), predictor.classes)

    def requirements(self, model: Any, options: dict[str, Any]) -> list[str]:
        return pinned(["cloudpickle", "numpy", "pandas"])
