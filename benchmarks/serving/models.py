"""The two benchmark models, trained once, and the rows every server is sent.

Both are fitted on ``load_breast_cancer(as_frame=True)`` and saved with joblib;
each server then loads these same fitted objects (Shipyard registers the
in-memory objects, MLflow and MLServer re-save/load the joblib files).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

MODEL_NAMES = ("lr", "hgb")
MODEL_TITLES = {
    "lr": "LogisticRegression pipeline (StandardScaler + LogisticRegression)",
    "hgb": "HistGradientBoostingClassifier(max_iter=200)",
}
POOL_SIZE = 64  # distinct rows the load generator cycles through
CHECK_ROWS = 8  # rows whose probabilities must agree across servers


@dataclass
class Models:
    """Fitted estimators, their joblib files, the feature frame and the row pool."""

    estimators: dict[str, Any]
    files: dict[str, Path]
    frame: pd.DataFrame
    columns: list[str]
    pool: list[list[float]]

    def expected(self, name: str, rows: list[list[float]]) -> np.ndarray:
        """Probabilities straight from the estimator, on a DataFrame with the fit columns."""
        frame = pd.DataFrame(np.array(rows, dtype=np.float64), columns=self.columns)
        return np.asarray(self.estimators[name].predict_proba(frame))


def build(name: str) -> Any:
    """An unfitted estimator for a model name."""
    if name == "lr":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if name == "hgb":
        return HistGradientBoostingClassifier(max_iter=200, random_state=0)
    raise ValueError(f"unknown model {name!r}; use one of {MODEL_NAMES}")


def train(folder: Path) -> Models:
    """Fit both models, save them as ``folder/<name>.joblib``, pick the row pool."""
    folder.mkdir(parents=True, exist_ok=True)
    frame, target = load_breast_cancer(as_frame=True, return_X_y=True)
    estimators: dict[str, Any] = {}
    files: dict[str, Path] = {}
    for name in MODEL_NAMES:
        estimator = build(name).fit(frame, target)
        path = folder / f"{name}.joblib"
        joblib.dump(estimator, path)
        estimators[name] = estimator
        files[name] = path
    step = max(1, len(frame) // POOL_SIZE)
    sample = frame.iloc[::step].head(POOL_SIZE)
    pool = [[float(v) for v in row] for row in sample.to_numpy(dtype=np.float64)]
    return Models(estimators, files, frame, [str(c) for c in frame.columns], pool)
