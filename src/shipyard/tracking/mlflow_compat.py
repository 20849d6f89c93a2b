"""Tracking operations as MLflow's API names them, over the same store and checks.

The MLflow client gives experiments by id, sends the run's source and git
commit as ``mlflow.source.*`` tags (the server must not look at its own stack
for them, as ``start_run_record`` does for local callers), and logs values
one RPC at a time. Keys and values are checked with the same rules as the SDK.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

from shipyard.entities import DatasetInput, MetricPoint, Run
from shipyard.errors import ExperimentNotFound, InvalidInput
from shipyard.names import check_name
from shipyard.store import Store
from shipyard.tracking.service import check_key, metric_value, param_value

MAX_TAG_LENGTH = 8000
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS_AND_TAGS = 100
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


def experiment_id_of(text: str) -> int:
    """Shipyard's integer id from MLflow's string id (not a number: it cannot exist)."""
    try:
        return int(text)
    except (TypeError, ValueError):
        raise ExperimentNotFound(str(text)) from None


#: MLflow's client runs in experiment "0" when none is set; Shipyard's SDK in "default".
MLFLOW_DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT = "default"


def resolve_experiment_id(store: Store, text: str, *, actor: str | None = None) -> int:
    """``experiment_id_of``, with MLflow's default experiment "0" as Shipyard's "default"
    (created when ``actor`` is given: a run is being started in it)."""
    if str(text) != MLFLOW_DEFAULT_EXPERIMENT_ID:
        return experiment_id_of(text)
    if actor is None:
        return store.tracking.get_experiment(name=DEFAULT_EXPERIMENT).id
    return store.tracking.ensure_experiment(DEFAULT_EXPERIMENT, actor=actor).id


def create_experiment(store: Store, name: str, tags: dict[str, str], *, actor: str) -> int:
    check_name(name, "experiment")
    return store.tracking.create_experiment(name, tags=check_tags(tags), actor=actor).id


def start_run(
    store: Store,
    *,
    experiment_id: int,
    name: str | None,
    start_time: int,
    tags: dict[str, str],
    user: str,
) -> Run:
    experiment = store.tracking.get_experiment(experiment_id=experiment_id)
    if experiment.lifecycle_stage != "active":
        raise InvalidInput(f"experiment {experiment.name!r} is deleted; restore it first")
    run_id = uuid.uuid4().hex
    run_name = name or tags.get("mlflow.runName") or f"run-{run_id[:8]}"
    checked = check_tags(tags)
    checked.setdefault("mlflow.runName", run_name)
    store.tracking.create_run(
        run_id=run_id,
        experiment_id=experiment.id,
        name=run_name[:256],
        user=user,
        start_time=start_time,
        git_commit=(tags.get("mlflow.source.git.commit") or "")[:64] or None,
        source=tags.get("mlflow.source.name"),
        params={},
        tags=checked,
    )
    return store.tracking.get_run(run_id)


def check_tags(tags: dict[str, Any]) -> dict[str, str]:
    checked = {}
    for key, value in tags.items():
        text = str(value)
        if len(text) > MAX_TAG_LENGTH:
            raise InvalidInput(
                f"tag {key!r} is {len(text)} characters long; the limit is {MAX_TAG_LENGTH}"
            )
        checked[check_key(key, "tag")] = text
    return checked


def metric_point(key: Any, value: Any, timestamp: Any, step: Any) -> MetricPoint:
    """A metric as the MLflow client sends it (NaN arrives as the string "NaN")."""
    name = check_key(key, "metric")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InvalidInput(f"metric {name!r} must be a number, got {value!r}") from None
        if math.isinf(value):
            raise InvalidInput(f"metric {name!r} is infinite; log a finite value")
    try:
        return MetricPoint(name, metric_value(name, value), int(step or 0), int(timestamp or 0))
    except (TypeError, ValueError):
        raise InvalidInput(f"metric {name!r} needs integer timestamp and step") from None


def log_batch(
    store: Store,
    run_id: str,
    *,
    metrics: Sequence[MetricPoint] = (),
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
) -> None:
    params = params or {}
    tags = tags or {}
    if len(metrics) > MAX_BATCH_METRICS:
        raise InvalidInput(f"a batch holds at most {MAX_BATCH_METRICS} metrics")
    if len(params) + len(tags) > MAX_BATCH_PARAMS_AND_TAGS:
        raise InvalidInput(f"a batch holds at most {MAX_BATCH_PARAMS_AND_TAGS} params and tags")
    store.tracking.log_batch(
        run_id,
        params={check_key(k, "param"): param_value(k, v) for k, v in params.items()},
        metrics=metrics,
        tags=check_tags(tags),
    )


def new_points(store: Store, run_id: str, linked: Sequence[MetricPoint]) -> list[MetricPoint]:
    """The points among ``linked`` the run does not hold yet.

    MLflow 3's ``log_model`` re-sends a run's metrics with the new model's id to link
    them; MLflow's own store ignores exact repeats (its primary key), so this does too.
    """
    fresh: list[MetricPoint] = []
    for key in dict.fromkeys(p.key for p in linked):
        known = {(p.value, p.step, p.timestamp) for p in store.tracking.metric_history(run_id, key)}
        fresh.extend(
            p for p in linked if p.key == key and (p.value, p.step, p.timestamp) not in known
        )
    return fresh


def log_inputs(store: Store, run_id: str, datasets: list[dict[str, Any]]) -> None:
    """Record each dataset a run read by name and digest (MLflow's dataset inputs)."""
    for item in datasets:
        dataset = item.get("dataset") if isinstance(item, dict) else None
        if not isinstance(dataset, dict) or not isinstance(dataset.get("name"), str):
            raise InvalidInput("each dataset input needs a dataset with a 'name'")
        digest = str(dataset.get("digest") or "")[:64]
        store.tracking.add_input(
            run_id, DatasetInput(dataset["name"][:256], digest or "unknown", digest or None)
        )


def check_status(status: str) -> str:
    if status not in RUN_STATUSES:
        raise InvalidInput(f"unknown run status {status!r}; use one of {list(RUN_STATUSES)}")
    return "RUNNING" if status == "SCHEDULED" else status
