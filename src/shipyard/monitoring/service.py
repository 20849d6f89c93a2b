"""Monitoring use cases over the store: feedback, references, drift and quality windows."""

from __future__ import annotations

import io
import json
import math
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.deploy.policy import BlueGreenPolicy, policy_from_dict
from shipyard.entities import ModelVersion
from shipyard.errors import InvalidInput, NotFound
from shipyard.monitoring.drift import DatasetDrift, DriftConfig, dataset_drift
from shipyard.monitoring.predlog import read_predictions
from shipyard.monitoring.profile import (
    ColumnProfile,
    profile_column,
    profile_frame,
    profile_from_dict,
)
from shipyard.monitoring.quality import QualityResult, join_feedback, quality_by
from shipyard.registry import service as registry
from shipyard.store import Store
from shipyard.store.feedback_store import FeedbackItem

REFERENCE_TAG = "shipyard.reference_profile"
#: A Parquet sample of the reference rows themselves (parity checks, explanations).
REFERENCE_SAMPLE_TAG = "shipyard.reference_sample"
REFERENCE_SAMPLE_ROWS = 5_000
SCORE = "__score__"
PREDICTION = "__prediction__"


_OUTCOME_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _outcome(index: int, value: Any) -> dict[str, float] | None:
    """Validated outcomes: names like ``clicked`` to finite numbers (booleans count 0/1)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise InvalidInput(
            f"feedback item {index}: outcome must be a non-empty object of name: number, "
            'e.g. {"clicked": 1, "revenue": 12.5}'
        )
    checked: dict[str, float] = {}
    for name, number in value.items():
        if not isinstance(name, str) or not _OUTCOME_NAME.match(name):
            raise InvalidInput(
                f"feedback item {index}: outcome name {name!r} must be letters, digits or _ "
                "(at most 64, not starting with a digit)"
            )
        if isinstance(number, bool):
            number = int(number)
        if not isinstance(number, int | float) or not math.isfinite(number):
            raise InvalidInput(
                f"feedback item {index}: outcome {name!r} must be a finite number, got {number!r}"
            )
        checked[name] = float(number)
    return checked


def add_feedback(store: Store, deployment: str, items: list[dict[str, Any]]) -> int:
    """Labels and/or outcomes for served predictions, by request id (and row of a batch)."""
    store.deployments.get(deployment)  # unknown deployment -> DeploymentNotFound
    if not isinstance(items, list) or not items:
        raise InvalidInput(
            "feedback must be a non-empty list of {request_id, label and/or outcome} objects"
        )
    checked = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "request_id" not in item:
            raise InvalidInput(f"feedback item {index} needs a request_id")
        request_id = item["request_id"]
        if not isinstance(request_id, str) or not request_id:
            raise InvalidInput(f"feedback item {index}: request_id must be a non-empty string")
        has_label = item.get("label") is not None
        outcome = _outcome(index, item.get("outcome"))
        if not has_label and outcome is None:
            raise InvalidInput(f"feedback item {index} needs a label, an outcome or both")
        label = item.get("label")
        if isinstance(label, dict | list):
            raise InvalidInput(f"feedback item {index}: label must be a single value")
        row = item.get("row", 0)
        if isinstance(row, bool) or not isinstance(row, int) or row < 0:
            raise InvalidInput(f"feedback item {index}: row must be a non-negative integer")
        checked.append(FeedbackItem(request_id, row, label, has_label, outcome))
    return store.feedback.add(deployment, checked)


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InvalidInput(f"{str(path)!r} is not a readable file")
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"cannot read {str(path)!r}: {exc}") from exc
    raise InvalidInput(f"{str(path)!r} must be .csv or .parquet")


def upload_feedback(store: Store, deployment: str, path: Path, outcomes: Sequence[str] = ()) -> int:
    """A CSV/Parquet file of ``request_id`` [``row``] [``label``] and outcome columns:
    every ``outcome.<name>`` column, and the columns named in ``outcomes``."""
    frame = read_table(path)
    if "request_id" not in frame.columns:
        raise InvalidInput(f"{path.name} lacks the column 'request_id'")
    missing = [c for c in outcomes if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{path.name} lacks the outcome column(s) {missing}")
    outcome_columns = {c: c for c in outcomes}
    outcome_columns.update(
        {c: c[len("outcome.") :] for c in frame.columns if str(c).startswith("outcome.")}
    )
    if "label" not in frame.columns and not outcome_columns:
        raise InvalidInput(
            f"{path.name} has neither a 'label' column nor outcome columns "
            "('outcome.<name>', or name them with --outcome)"
        )
    frame = frame.astype(object).where(frame.notna(), None)
    records = []
    for position, record in enumerate(frame.to_dict(orient="records")):
        item: dict[str, Any] = {
            "request_id": str(record["request_id"]),
            "row": int(record.get("row") or 0),
        }
        label = record.get("label")
        if label is not None:
            item["label"] = label.item() if isinstance(label, np.generic) else label
        values = {
            name: _number(record[column], path, position, column)
            for column, name in outcome_columns.items()
            if record[column] is not None
        }
        if values:
            item["outcome"] = values
        if "label" in item or "outcome" in item:
            records.append(item)
    if not records:
        raise InvalidInput(f"{path.name} has no row with a label or an outcome")
    return add_feedback(store, deployment, records)


def _number(value: Any, path: Path, position: int, column: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{path.name} row {position + 1}, column {column!r}: {value!r} is not a number"
        ) from None


def _scores(version: ModelVersion, loaded: Any, data: pd.DataFrame) -> tuple[Any, Any]:
    predictions = loaded.predict(data)
    if hasattr(loaded, "predict_proba"):
        proba = np.asarray(loaded.predict_proba(data))
        score = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
    else:
        score = np.asarray(predictions, dtype="float64")
    return predictions, score


def set_reference(store: Store, version: ModelVersion, data: pd.DataFrame, *, actor: str) -> str:
    """Profile ``data`` (inputs and the model's outputs on it) as the version's reference."""
    if not isinstance(data, pd.DataFrame) or data.empty:
        raise InvalidInput("reference data must be a non-empty DataFrame")
    columns = version.signature.columns
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise InvalidInput(f"reference data lacks the model's input column(s) {missing}")
    loaded = registry.load_version(store, version)
    predictions, score = _scores(version, loaded, data[columns])
    profiles = {name: p.to_dict() for name, p in profile_frame(data[columns]).items()}
    profiles[SCORE] = profile_column(pd.Series(score, dtype="float64")).to_dict()
    profiles[PREDICTION] = profile_column(pd.Series(predictions).astype(str)).to_dict()
    ref = store.artifacts.put_bytes(json.dumps({"columns": profiles}).encode())
    store.registry.set_version_tag(
        version.name, version.version, REFERENCE_TAG, ref.sha256, actor=actor
    )
    rows = data[columns]
    if len(rows) > REFERENCE_SAMPLE_ROWS:
        rows = rows.sample(REFERENCE_SAMPLE_ROWS, random_state=0)
    buffer = io.BytesIO()
    rows.reset_index(drop=True).to_parquet(buffer, index=False)
    sample = store.artifacts.put_bytes(buffer.getvalue())
    store.registry.set_version_tag(
        version.name, version.version, REFERENCE_SAMPLE_TAG, sample.sha256, actor=actor
    )
    return ref.sha256


def reference_sample(store: Store, version: ModelVersion) -> pd.DataFrame | None:
    """Up to 5,000 of the version's reference rows (hash-verified), None if it has none."""
    sha = version.tags.get(REFERENCE_SAMPLE_TAG)
    if sha is None:
        return None
    return pd.read_parquet(io.BytesIO(store.artifacts.get_bytes(sha)))


def reference_of(store: Store, version: ModelVersion) -> dict[str, ColumnProfile]:
    sha = version.tags.get(REFERENCE_TAG)
    if sha is None:
        raise NotFound(
            f"{version.uri} has no reference profile; register it with "
            "reference_data=... or call set_reference"
        )
    data = json.loads(store.artifacts.get_bytes(sha))
    return {name: profile_from_dict(p) for name, p in data["columns"].items()}


def serving_version(store: Store, deployment: str) -> ModelVersion:
    """The version a deployment's primary target resolves to now."""
    policy = policy_from_dict(store.deployments.get(deployment).policy)
    ref = policy.live if isinstance(policy, BlueGreenPolicy) else policy.targets[0]
    return store.registry.get_version(ref.name, version=ref.version, alias=ref.alias)


def window_frame(store: Store, deployment: str, window_s: float | None) -> pd.DataFrame:
    since = int((time.time() - window_s) * 1000) if window_s else None
    table = read_predictions(store.artifacts, deployment, since_ms=since)
    return join_feedback(table, store.feedback.all_for(deployment))


def drift(
    store: Store, deployment: str, window_s: float | None, config: DriftConfig | None = None
) -> DatasetDrift:
    """Inputs and outputs of the window against the serving version's reference."""
    version = serving_version(store, deployment)
    references = reference_of(store, version)
    frame = window_frame(store, deployment, window_s)
    if frame.empty:
        raise InvalidInput(f"deployment {deployment!r} has no logged predictions in the window")
    current = pd.DataFrame(
        {
            name: frame[f"in.{name}"]
            for name in version.signature.columns
            if f"in.{name}" in frame.columns
        }
    )
    current[SCORE] = frame["score"].astype("float64")
    current[PREDICTION] = frame["prediction"].astype(str)
    references = {k: v for k, v in references.items() if k in current.columns}
    return dataset_drift(references, current, config)


def quality(
    store: Store, deployment: str, window_s: float | None, by: str | None = None
) -> list[QualityResult]:
    version = serving_version(store, deployment)
    outputs = version.signature.outputs
    task = outputs.task if outputs is not None else "other"
    classes = list(outputs.classes) if outputs is not None and outputs.classes else None
    return quality_by(window_frame(store, deployment, window_s), task, classes, by)
