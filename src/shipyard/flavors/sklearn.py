"""scikit-learn estimators and pipelines, saved with skops (joblib only on request).

skops does not execute arbitrary code on load: only the types it was told to
trust. At registration we record exactly which non-default types the file
needs; at load we trust those and nothing else, and the file's hash has
already been verified, so a swapped file is refused before skops reads it.
``serialization="joblib"`` is the explicit, trusted-input-only escape hatch
for estimators skops cannot represent; objects plain pickle cannot store either
(lambdas, functions defined inside functions) are written with cloudpickle.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput, SignatureError, UnsupportedModel
from shipyard.flavors.base import Flavor, LoadContext, Predictor, pinned
from shipyard.flavors.skops_import import import_skops
from shipyard.signature import ColumnSpec, Signature
from shipyard.store.artifacts import Tree

SKOPS_FILE = "model.skops"
JOBLIB_FILE = "model.joblib"
CLOUDPICKLE_FILE = "model.cloudpickle"
SERIALIZATIONS = ("skops", "joblib")


class SklearnPredictor(Predictor):
    def __init__(self, estimator: Any, signature: Signature | None = None) -> None:
        self.estimator = estimator
        classes = getattr(estimator, "classes_", None)
        self.classes = (
            tuple(c.item() if hasattr(c, "item") else c for c in classes)
            if (classes is not None)
            else None
        )
        self._proba = hasattr(estimator, "predict_proba")
        # Fitted on named columns -> pass the frame (in fit order, which scikit-learn
        # checks); fitted on a bare matrix -> pass values.
        names = getattr(estimator, "feature_names_in_", None)
        self._fit_columns = pd.Index(names) if names is not None else None

    def _input(self, frame: pd.DataFrame) -> Any:
        if self._fit_columns is None:
            return frame.to_numpy()
        if frame.columns.equals(self._fit_columns):
            return frame
        missing = [str(c) for c in self._fit_columns if c not in frame.columns]
        if missing:
            raise SignatureError(
                f"the estimator was fitted on column(s) {missing} that the input lacks "
                f"(it has {[str(c) for c in frame.columns]}); pass a DataFrame with the "
                "training columns"
            )
        return frame[self._fit_columns]

    def predict(self, frame: pd.DataFrame) -> Any:
        return self.estimator.predict(self._input(frame))

    @property
    def supports_proba(self) -> bool:
        return self._proba

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(self._input(frame)))

    @property
    def raw(self) -> Any:
        return self.estimator

    def accepts_matrix(self, columns: Sequence[str]) -> bool:
        # The estimator sees the same numbers in the same order it was fitted on;
        # only its feature-name check is skipped (the server silences that warning).
        return self._fit_columns is None or list(self._fit_columns) == list(columns)

    def predict_matrix(self, matrix: np.ndarray) -> Any:
        return self.estimator.predict(matrix)

    def predict_proba_matrix(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(matrix))


class SklearnFlavor(Flavor):
    name = "sklearn"
    priority = 10

    def can_save(self, model: Any) -> bool:
        try:
            from sklearn.base import BaseEstimator
        except ImportError:  # pragma: no cover - scikit-learn is a core dependency
            return False
        return isinstance(model, BaseEstimator) and hasattr(model, "predict")

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> dict[str, Any]:
        serialization = options.get("serialization", "skops")
        if serialization not in SERIALIZATIONS:
            raise InvalidInput(
                f"unknown serialization {serialization!r} for sklearn; use one of {SERIALIZATIONS}"
            )
        if serialization == "joblib":
            return _save_pickled(model, folder)
        sio = import_skops()

        try:
            data = sio.dumps(model)
            trusted = sorted(sio.get_untrusted_types(data=data))
            # skops stores functions by reference: a lambda or a function defined inside
            # another one "serializes" but cannot be loaded. Such objects always show up
            # as non-default types, so only then is the round trip needed to refuse it now.
            if trusted:
                sio.loads(data, trusted=trusted)
        except Exception as exc:  # skops raises TypeError and others for unknown objects
            raise UnsupportedModel(
                f"skops cannot serialize {type(model).__name__}: {exc}; if you trust this "
                "object, register it with serialization='joblib'"
            ) from exc
        (folder / SKOPS_FILE).write_bytes(data)
        return {"serialization": "skops", "trusted_types": trusted}

    def load(self, tree: Tree, options: dict[str, Any], context: LoadContext) -> Predictor:
        if options.get("serialization") == "joblib":
            if options.get("pickler") == "cloudpickle":
                import cloudpickle

                return SklearnPredictor(cloudpickle.loads(tree.read_bytes(CLOUDPICKLE_FILE)))
            import joblib

            return SklearnPredictor(joblib.load(io.BytesIO(tree.read_bytes(JOBLIB_FILE))))
        sio = import_skops()

        data = tree.read_bytes(SKOPS_FILE)
        return SklearnPredictor(sio.loads(data, trusted=list(options.get("trusted_types", []))))

    def wrap(self, model: Any, signature: Signature) -> Predictor:
        return SklearnPredictor(model, signature)

    def requirements(self, model: Any, options: dict[str, Any]) -> list[str]:
        packages = ["scikit-learn", "numpy", "scipy", "pandas"]
        if options.get("serialization") == "joblib":
            packages.append("joblib")
            if options.get("pickler") == "cloudpickle":
                packages.append("cloudpickle")
        else:
            packages.append("skops")
        module = type(model).__module__.split(".")[0]
        if module not in ("sklearn", "builtins"):
            packages.append(module)  # e.g. xgboost, lightgbm estimators with the sklearn API
        return pinned(packages)


def _save_pickled(model: Any, folder: Path) -> dict[str, Any]:
    """joblib (pickle) for trusted objects; cloudpickle for what pickle cannot name."""
    import joblib

    try:
        joblib.dump(model, folder / JOBLIB_FILE)
        return {"serialization": "joblib"}
    except (pickle.PicklingError, AttributeError, TypeError):
        # e.g. FunctionTransformer(func=lambda x: x): pickle stores functions by name
        (folder / JOBLIB_FILE).unlink(missing_ok=True)
    import cloudpickle

    try:
        data = cloudpickle.dumps(model)
    except Exception as exc:
        raise UnsupportedModel(
            f"neither joblib nor cloudpickle can serialize {type(model).__name__}: {exc}"
        ) from exc
    (folder / CLOUDPICKLE_FILE).write_bytes(data)
    return {"serialization": "joblib", "pickler": "cloudpickle"}


def signature_of_estimator(estimator: Any) -> Signature | None:
    """The input columns a fitted estimator recorded, for models that came without data.

    scikit-learn keeps ``feature_names_in_`` when fitted on a DataFrame and
    ``n_features_in_`` always. Without data the dtypes are assumed: float64 (what
    numeric estimators compute in), except columns a fitted encoder or imputer saw
    as text, which are strings. Columns known only by count are named ``f0..f{n-1}``
    and fed as a matrix, the names ``to_frame`` gives a bare array.
    """
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        text = _text_columns(estimator)
        return Signature(
            tuple(
                ColumnSpec(str(n), "string" if str(n) in text else "float64", False) for n in names
            ),
            None,
            "dataframe",
        )
    count = getattr(estimator, "n_features_in_", None)
    if isinstance(count, int | np.integer) and count > 0:
        inputs = tuple(ColumnSpec(f"f{i}", "float64", False) for i in range(int(count)))
        return Signature(inputs, None, "ndarray")
    return None


def _text_columns(estimator: Any) -> set[str]:
    """Input columns that a fitted step saw as strings (its categories or fill values)."""
    first = estimator.steps[0][1] if hasattr(estimator, "steps") else estimator
    transformers = getattr(first, "transformers_", None)
    if transformers is None:  # one step sees every column
        return _text_in(first, [str(n) for n in getattr(first, "feature_names_in_", [])])
    text: set[str] = set()
    for _, transformer, columns in transformers:
        if isinstance(transformer, str) or not isinstance(columns, list | tuple | np.ndarray):
            continue  # "drop"/"passthrough", or columns by slice/mask: assume numeric
        text |= _text_in(transformer, [str(c) for c in columns])
    return text


def _text_in(transformer: Any, columns: list[str]) -> set[str]:
    steps = [s for _, s in transformer.steps] if hasattr(transformer, "steps") else [transformer]
    for step in steps:
        categories = getattr(step, "categories_", None)
        if categories is not None and len(categories) == len(columns):
            return {c for c, levels in zip(columns, categories, strict=True) if _is_text(levels)}
        statistics = getattr(step, "statistics_", None)
        if statistics is not None and len(statistics) == len(columns):
            return {
                c for c, value in zip(columns, statistics, strict=True) if isinstance(value, str)
            }
        if not hasattr(step, "transform"):
            break
    return set()


def _is_text(levels: Any) -> bool:
    array = np.asarray(levels)
    return array.dtype.kind in "OUS" and any(isinstance(v, str) for v in array)
