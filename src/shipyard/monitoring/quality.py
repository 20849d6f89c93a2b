"""Model quality from logged predictions joined with (possibly late) feedback labels.

With labels: accuracy, precision, recall, F1, ROC-AUC and log-loss for
classifiers; MAE, RMSE and R² for regressors; per version and per slice of a
chosen input. Without labels (they lag), the confidence-based performance
estimate (CBPE): for a calibrated probabilistic classifier the expected
accuracy is the mean of the top class probability, which is reported beside
the realized accuracy once labels arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn import metrics

from shipyard.errors import InvalidInput
from shipyard.store.feedback_store import FeedbackRow


@dataclass(frozen=True)
class QualityResult:
    group: str
    rows: int
    labelled: int
    metrics: dict[str, float]
    estimated: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def join_feedback(predictions: pa.Table, feedback: Sequence[FeedbackRow]) -> pd.DataFrame:
    """Logged rows with their label (None where none arrived yet) and one
    ``outcome.<name>`` column per outcome fed back (NaN where none arrived); primary
    answers only (shadow calls are not what the caller saw)."""
    frame = predictions.to_pandas()
    if frame.empty:
        return frame.assign(label=pd.Series(dtype=object))
    if "arm" in frame.columns:
        frame = frame[~frame["arm"].astype(str).str.startswith("shadow:")]
    if not feedback:
        return frame.assign(label=None)
    joined = pd.DataFrame(
        {
            "request_id": [f.request_id for f in feedback],
            "row": np.fromiter((f.row for f in feedback), np.int64, len(feedback)),
            "label": [f.label for f in feedback],
        }
    )
    if any(f.outcome for f in feedback):
        outcomes = pd.DataFrame.from_records([f.outcome or {} for f in feedback])
        joined = pd.concat([joined, outcomes.add_prefix("outcome.")], axis=1)
    return frame.merge(joined, on=["request_id", "row"], how="left")


def _classification(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None, classes: list[Any]
) -> dict[str, float]:
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    kwargs: dict[str, Any] = {"average": average, "zero_division": 0}
    if binary:
        kwargs["pos_label"] = classes[1]
    result = {
        "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        "precision": float(metrics.precision_score(y_true, y_pred, **kwargs)),
        "recall": float(metrics.recall_score(y_true, y_pred, **kwargs)),
        "f1": float(metrics.f1_score(y_true, y_pred, **kwargs)),
    }
    if proba is not None and len(set(y_true)) > 1:
        if binary:
            result["roc_auc"] = float(metrics.roc_auc_score(y_true == classes[1], proba[:, 1]))
        else:
            result["roc_auc"] = float(
                metrics.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
            )
        result["log_loss"] = float(metrics.log_loss(y_true, proba, labels=classes))
    return result


def _regression(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "mae": float(metrics.mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(metrics.mean_squared_error(y_true, y_pred))),
        "r2": float(metrics.r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan"),
    }


def _cbpe(proba: np.ndarray) -> dict[str, float]:
    top = proba.max(axis=1)
    return {"accuracy": float(top.mean())}


def _probabilities(frame: pd.DataFrame) -> np.ndarray | None:
    if "probabilities" not in frame.columns:
        return None
    values = frame["probabilities"].tolist()
    if not values or any(v is None for v in values):
        return None
    return np.asarray([list(v) for v in values], dtype="float64")


def evaluate(
    frame: pd.DataFrame, task: str, classes: list[Any] | None, group: str
) -> QualityResult:
    """Quality of one group of joined rows (``task``: classification or regression)."""
    labelled = frame[frame["label"].notna()] if "label" in frame.columns else frame.iloc[:0]
    proba_all = _probabilities(frame) if task == "classification" else None
    estimated = _cbpe(proba_all) if proba_all is not None and len(frame) else {}
    if labelled.empty:
        return QualityResult(group, len(frame), 0, {}, estimated)
    if task == "classification":
        if classes is None:
            raise InvalidInput("a classification quality check needs the model's classes")
        cast = type(classes[0])
        y_true = np.asarray([cast(v) for v in labelled["label"]])
        y_pred = np.asarray([cast(v) for v in labelled["prediction"]])
        proba = _probabilities(labelled)
        realized = _classification(y_true, y_pred, proba, list(classes))
    elif task == "regression":
        y_true = labelled["label"].astype(float).to_numpy()
        y_pred = labelled["prediction"].astype(float).to_numpy()
        realized = _regression(y_true, y_pred)
    else:
        raise InvalidInput(f"quality needs a classification or regression model, not {task!r}")
    return QualityResult(group, len(frame), len(labelled), realized, estimated)


def quality_by(
    frame: pd.DataFrame, task: str, classes: list[Any] | None, by: str | None = None
) -> list[QualityResult]:
    """Overall, or per ``version`` / per value of an input column (a slice)."""
    if by is None:
        return [evaluate(frame, task, classes, "all")]
    column = by if by in frame.columns else f"in.{by}"
    if column not in frame.columns:
        raise InvalidInput(f"cannot slice by {by!r}: not a logged column")
    return [
        evaluate(group, task, classes, f"{by}={key}")
        for key, group in frame.groupby(column, sort=True)
    ]
