"""User model classes for the pyfunc flavor tests.

They live in a plain module next to the tests (not in a test file, not
installed), the way a user's ``model.py`` would: loading them in a fresh
process proves the class travelled inside the stored bundle.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd

SCALE_FILE = "scale.json"


class ThresholdModel:
    """A weighted sum of columns against a threshold; ``artifacts`` may rescale it."""

    classes = (0, 1)

    def __init__(self, weights: dict[str, float], threshold: float) -> None:
        self.weights = dict(weights)
        self.threshold = threshold
        self.scale = 1.0

    def load(self, path: str) -> None:
        config = Path(path) / SCALE_FILE
        if config.is_file():
            self.scale = float(json.loads(config.read_text())["scale"])

    def _score(self, frame: pd.DataFrame) -> np.ndarray:
        total = np.zeros(len(frame))
        for column, weight in self.weights.items():
            total += frame[column].to_numpy(dtype=np.float64) * weight
        return total * self.scale - self.threshold

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self._score(frame) > 0).astype(np.int64)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        positive = 1.0 / (1.0 + np.exp(-self._score(frame)))
        return np.column_stack([1.0 - positive, positive])


class ConstantModel:
    """Predicts 0 for any row of any columns (for signature tests)."""

    def load(self, path: str) -> None:
        pass

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(frame), dtype=np.int64)


class ArrayClassesModel:
    """Exposes its labels as a numpy array, the way scikit-learn's ``classes_`` does."""

    def __init__(self) -> None:
        self.classes = np.array(["no", "yes"])

    def load(self, path: str) -> None:
        pass

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.where(frame.iloc[:, 0].to_numpy() > 0, "yes", "no")


class UnpicklableModel:
    """Holds a lock, which no pickler can store."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def load(self, path: str) -> None:
        pass

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(frame))
