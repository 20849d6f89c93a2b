"""The explainer plug-in contract: one class per method, registered by name.

An explainer is built once per loaded version (the costly part: a tree
explainer's model conversion, the background's mean) and then explains request
rows. ``explainer_for`` picks the first registered method, by priority, that
supports the model; adding one is a module with a subclass plus one
``register_explainer`` line, and the conformance tests run every registered one.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shipyard.errors import ShipyardError, UnsupportedModel
from shipyard.explain.result import Explanation
from shipyard.registry.loaded import LoadedModel

logger = logging.getLogger(__name__)


class NotExplainable(ShipyardError):
    """This method cannot explain this model (the next method is tried)."""


class Explainer(ABC):
    """Explains rows of one loaded version. Subclasses set ``name`` and ``priority``."""

    name: ClassVar[str]
    #: Lower is tried first: exact methods before the sampled one.
    priority: ClassVar[int] = 100

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.columns: tuple[str, ...] = tuple(loaded.signature.columns)

    @classmethod
    @abstractmethod
    def supports(cls, loaded: LoadedModel) -> bool:
        """Cheap check: True when this method applies to the model's type."""

    @classmethod
    @abstractmethod
    def build(cls, loaded: LoadedModel, background: pd.DataFrame) -> Explainer:
        """The explainer for this version (raises ``NotExplainable`` when it cannot)."""

    @abstractmethod
    def explain(self, frame: pd.DataFrame) -> Explanation:
        """Explanations of ``frame``'s rows (columns in signature order, validated)."""

    def describe(self) -> dict[str, Any]:
        return {"method": self.name}


_EXPLAINERS: dict[str, type[Explainer]] = {}


def register_explainer(cls: type[Explainer]) -> type[Explainer]:
    _EXPLAINERS[cls.name] = cls
    return cls


def registered_explainers() -> list[type[Explainer]]:
    return sorted(_EXPLAINERS.values(), key=lambda c: c.priority)


def explainer_for(
    loaded: LoadedModel, background: pd.DataFrame, method: str | None = None
) -> Explainer:
    """The best explainer for the model, or the one named by ``method``."""
    if method is not None:
        if method not in _EXPLAINERS:
            raise UnsupportedModel(
                f"unknown explanation method {method!r}; use {sorted(_EXPLAINERS)}"
            )
        candidates = [_EXPLAINERS[method]]
    else:
        candidates = registered_explainers()
    reasons = []
    for cls in candidates:
        if not cls.supports(loaded):
            reasons.append(f"{cls.name}: not this kind of model")
            continue
        try:
            return cls.build(loaded, background)
        except NotExplainable as exc:
            logger.info("%s cannot explain %s: %s", cls.name, loaded.version.uri, exc)
            reasons.append(f"{cls.name}: {exc}")
    raise UnsupportedModel(f"cannot explain {loaded.version.uri}: " + "; ".join(reasons))


def estimator_input(estimator: Any, frame: pd.DataFrame) -> Any:
    """What a scikit-learn estimator was fitted on: the frame in fit order, or its values."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return frame.to_numpy()
    return frame if list(frame.columns) == list(names) else frame[list(names)]


def as_outputs(values: Any, rows: int) -> np.ndarray:
    """Model outputs as ``(rows, k)`` floats."""
    array = np.asarray(values, dtype=np.float64)
    return array.reshape(rows, -1)
