"""Monitoring use cases over the store: feedback, references, drift and quality windows."""

from __future__ import annotations

import io
import json
import time
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

REFERENCE_TAG = "shipyard.reference_profile"
#: A Parquet sample of the reference rows themselves (parity checks, explanations).
REFERENCE_SAMPLE_TAG = "shipyard.reference_sample"
REFERENCE_SAMPLE_ROWS = 5_000
SCORE = "__score__"
PREDICTION = "__prediction__"


def add_feedback(store: Store, deployment: str, labels: list[dict[str, Any]]) -> int:
    store.deployments.get(deployment)  # unknown deployment -> DeploymentNotFound
    if not isinstance(labels, list) or not labels:
        raise InvalidInput("feedback must be a non-empty list of {request_id, label} objects")
    triples = []
    for index, item in enumerate(labels):
        if not isinstance(item, dict) or "request_id" not in item or "label" not in item:
            raise InvalidInput(f"feedback item {index} needs request_id and label")
        request_id, label = item["request_id"], item["label"]
        if not isinstance(request_id, str) or not request_id:
            raise InvalidInput(f"feedback item {index}: request_id must be a non-empty string")
        if isinstance(label, dict | list):
            raise InvalidInput(f"feedback item {index}: label must be a single value")
        row = item.get("row", 0)
        if not isinstance(row, int) or row < 0:
            raise InvalidInput(f"feedback item {index}: row must be a non-negative integer")
        triples.append((request_id, row, label))
    return store.feedback.add(deployment, triples)


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


def upload_feedback(store: Store, deployment: str, path: Path) -> int:
    frame = read_table(path)
    missing = {"request_id", "label"} - set(frame.columns)
    if missing:
        raise InvalidInput(f"{path.name} lacks column(s) {sorted(missing)}")
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    for record in records:
        record["request_id"] = str(record["request_id"])
        record["row"] = int(record.get("row") or 0)
        if isinstance(record["label"], np.generic):
            record["label"] = record["label"].item()
    return add_feedback(store, deployment, records)


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
