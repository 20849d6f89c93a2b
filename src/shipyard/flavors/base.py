"""The flavor plug-in contract: how one model format is saved, described and loaded.

A flavor writes a model into a folder (the registry stores that folder,
content-addressed) and later turns the verified stored files back into a
``Predictor``. Adding a format is one module with a ``Flavor`` subclass plus
one ``register_flavor`` line; the conformance tests run every registered one.
"""

from __future__ import annotations

import functools
import importlib.metadata
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shipyard.signature import OutputSpec, Signature, infer_output_spec
from shipyard.store.artifacts import Tree


class Predictor(ABC):
    """A loaded model in any format, behind one small interface."""

    #: Class labels in ``predict_proba`` column order, for classifiers.
    classes: tuple[Any, ...] | None = None

    @abstractmethod
    def predict(self, frame: pd.DataFrame) -> Any:
        """Predictions for the rows of ``frame`` (columns already in signature order)."""

    @property
    def supports_proba(self) -> bool:
        return False

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no predict_proba")

    @property
    def raw(self) -> Any:
        """The underlying framework object (estimator, session, user model)."""
        return None

    # -- the serving fast path: a float matrix instead of a DataFrame ------------
    def accepts_matrix(self, columns: Sequence[str]) -> bool:
        """True when ``predict_matrix`` can take a float matrix with these columns in order.

        Building and checking a one-row DataFrame costs more than the model call
        for small models, so the server feeds matrices to predictors that can
        take them.
        """
        return False

    def predict_matrix(self, matrix: np.ndarray) -> Any:
        raise NotImplementedError(f"{type(self).__name__} takes DataFrames only")

    def predict_proba_matrix(self, matrix: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} takes DataFrames only")


@dataclass(frozen=True)
class LoadContext:
    """What a flavor may need while loading: where to materialize files."""

    cache_dir: Path


class Flavor(ABC):
    """One model format. Subclasses set ``name`` and implement the four steps."""

    name: ClassVar[str]
    #: Distributions whose versions are recorded as the version's requirements.
    packages: ClassVar[tuple[str, ...]] = ()
    #: Lower runs first when guessing the flavor of an object.
    priority: ClassVar[int] = 100

    @abstractmethod
    def can_save(self, model: Any) -> bool:
        """True when this flavor knows how to save ``model``."""

    @abstractmethod
    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> dict[str, Any]:
        """Write ``model`` into ``folder``; return the options needed to load it."""

    @abstractmethod
    def load(self, tree: Tree, options: dict[str, Any], context: LoadContext) -> Predictor:
        """Turn the stored (hash-verified) files back into a predictor."""

    def describe_outputs(
        self,
        model: Any,
        saved: Path,
        options: dict[str, Any],
        frame: pd.DataFrame,
        signature: Signature,
    ) -> OutputSpec:
        """Describe what the model predicts for the sample (``saved`` holds its files)."""
        predictor = self.wrap(model, signature)
        if predictor.accepts_matrix(signature.columns) and all(
            c.dtype == "float64" or c.dtype == "int64" for c in signature.inputs
        ):
            with warnings.catch_warnings():  # a matrix has no column names: expected here
                warnings.simplefilter("ignore", UserWarning)
                predictions = predictor.predict_matrix(frame.to_numpy(dtype="float64"))
            return infer_output_spec(predictions, predictor.classes)
        return infer_output_spec(predictor.predict(frame), predictor.classes)

    @abstractmethod
    def wrap(self, model: Any, signature: Signature) -> Predictor:
        """A predictor over the in-memory object (used before it is stored)."""

    def signature_from_model(self, model: Any) -> Signature | None:
        """A signature the model can describe itself (ONNX inputs, MLmodel files)."""
        return None

    def example_input(self, model: Any) -> Any:
        """Rows saved with the model (MLflow's input example), used like a sample input
        when the model declares no signature; None when there are none."""
        return None

    def requirements(self, model: Any, options: dict[str, Any]) -> list[str]:
        return pinned(self.packages)


@functools.cache
def _installed_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def pinned(packages: Iterable[str]) -> list[str]:
    """``name==version`` for each installed distribution (unknown ones skipped)."""
    versions = ((package, _installed_version(package)) for package in packages)
    return [f"{package}=={version}" for package, version in versions if version is not None]
