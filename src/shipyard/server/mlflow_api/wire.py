"""Shipyard entities as MLflow's JSON messages (``service.proto``, ``model_registry.proto``).

Ids are strings on the wire (``experiment_id``, ``version``), times are
milliseconds, and a model version is always ``READY`` with stage ``None``:
Shipyard registers synchronously and uses aliases, not stages.
"""

from __future__ import annotations

from typing import Any

from shipyard.entities import (
    Experiment,
    LoggedModel,
    ModelVersion,
    RegisteredModel,
    Run,
)
from shipyard.registry.mlflow_source import MODEL_ID_TAG, SOURCE_TAG
from shipyard.tracking.mlflow_artifacts import (
    Listed,
    logged_model_artifact_uri,
    run_artifact_uri,
    version_artifact_uri,
)

#: Version tags that are fields of MLflow's message instead (source, model_id).
_HIDDEN_VERSION_TAGS = frozenset({SOURCE_TAG, MODEL_ID_TAG})


def file_infos(listed: list[Listed], relpath: str = "") -> list[dict[str, Any]]:
    """MLflow's FileInfo list: paths relative to the listed root, sizes of files only."""
    infos = []
    for entry in listed:
        info: dict[str, Any] = {
            "path": f"{relpath}/{entry.name}" if relpath else entry.name,
            "is_dir": entry.is_dir,
        }
        if entry.size is not None:
            info["file_size"] = entry.size
        infos.append(info)
    return infos


def key_values(items: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": k, "value": str(v)} for k, v in items.items()]


def experiment(item: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": str(item.id),
        "name": item.name,
        "artifact_location": f"mlflow-artifacts:/{item.id}",
        "lifecycle_stage": item.lifecycle_stage,
        "creation_time": item.created_at,
        "last_update_time": item.created_at,
        "tags": key_values(item.tags),
    }


def run_info(run: Run) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": str(run.experiment_id),
        "user_id": run.user,
        "status": run.status,
        "start_time": run.start_time,
        "artifact_uri": run_artifact_uri(run.experiment_id, run.id),
        "lifecycle_stage": run.lifecycle_stage,
    }
    if run.end_time is not None:
        info["end_time"] = run.end_time
    return info


def run(item: Run) -> dict[str, Any]:
    tags = dict(item.tags)
    tags.setdefault("mlflow.runName", item.name)
    tags.setdefault("mlflow.user", item.user)
    if item.git_commit:
        tags.setdefault("mlflow.source.git.commit", item.git_commit)
    return {
        "info": run_info(item),
        "data": {
            "metrics": [
                {"key": k, "value": v, "timestamp": 0, "step": 0} for k, v in item.metrics.items()
            ],
            "params": key_values(item.params),
            "tags": key_values(tags),
        },
        "inputs": {
            "dataset_inputs": [
                {
                    "tags": [],
                    "dataset": {
                        "name": i.dataset,
                        "digest": i.digest or i.version,
                        "source_type": "",
                        "source": "",
                    },
                }
                for i in item.inputs
            ]
        },
    }


def logged_model(item: LoggedModel) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": item.id,
        "experiment_id": str(item.experiment_id),
        "name": item.name,
        "creation_timestamp_ms": item.created_at,
        "last_updated_timestamp_ms": item.updated_at,
        "artifact_uri": logged_model_artifact_uri(item.experiment_id, item.id),
        "status": item.status,
        "model_type": item.model_type,
        "tags": key_values(item.tags),
    }
    if item.source_run_id:
        info["source_run_id"] = item.source_run_id
    return {"info": info, "data": {"params": key_values(item.params), "metrics": []}}


def model_version(item: ModelVersion) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": item.name,
        "version": str(item.version),
        "creation_timestamp": item.created_at,
        "last_updated_timestamp": item.created_at,
        "user_id": item.created_by,
        "current_stage": "None",
        "description": item.description,
        "source": item.tags.get(SOURCE_TAG) or version_artifact_uri(item.name, item.version),
        "status": "READY",
        "tags": key_values({k: v for k, v in item.tags.items() if k not in _HIDDEN_VERSION_TAGS}),
        "aliases": list(item.aliases),
    }
    if item.run_id:
        message["run_id"] = item.run_id
    if item.tags.get(MODEL_ID_TAG):
        message["model_id"] = item.tags[MODEL_ID_TAG]
    return message


def registered_model(item: RegisteredModel, latest: ModelVersion | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": item.name,
        "creation_timestamp": item.created_at,
        "last_updated_timestamp": item.updated_at,
        "description": item.description,
        "tags": key_values(item.tags),
        "aliases": [{"alias": a, "version": str(v)} for a, v in item.aliases.items()],
    }
    if latest is not None:
        message["latest_versions"] = [model_version(latest)]
    return message
