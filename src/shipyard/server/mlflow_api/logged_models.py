"""MLflow 3's logged models (``/logged-models``): the 3.x client's ``log_model`` has no
fallback without them. A logged model is created PENDING, its files are uploaded
below its ``artifact_uri``, and the client finalizes it READY."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from shipyard.errors import InvalidInput
from shipyard.server.mlflow_api import wire
from shipyard.server.mlflow_api.paging import check_max_results, offset_of, token_for
from shipyard.server.mlflow_api.routing import Call, add_routes
from shipyard.tracking import mlflow_artifacts, mlflow_compat
from shipyard.tracking.mlflow_compat import experiment_id_of

STATUSES = (
    "LOGGED_MODEL_STATUS_UNSPECIFIED",
    "LOGGED_MODEL_PENDING",
    "LOGGED_MODEL_READY",
    "LOGGED_MODEL_UPLOAD_FAILED",
)


def _status(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(STATUSES):
        return STATUSES[value]
    if value in STATUSES:
        return str(value)
    raise InvalidInput(f"unknown logged model status {value!r}; use one of {list(STATUSES)}")


def create(call: Call) -> dict[str, Any]:
    args = call.args
    store = call.client.store
    experiment = store.tracking.get_experiment(
        experiment_id=experiment_id_of(args.text("experiment_id"))
    )
    run_id = args.optional_text("source_run_id")
    if run_id is not None:
        store.tracking.get_run(run_id)
    model_id = f"m-{uuid.uuid4().hex}"
    created = store.logged_models.create(
        model_id,
        experiment_id=experiment.id,
        name=str(args.get("name") or model_id)[:256],
        source_run_id=run_id,
        model_type=str(args.get("model_type", ""))[:128],
        tags=mlflow_compat.check_tags(args.key_values("tags")),
        params=args.key_values("params"),
        actor=call.actor,
    )
    return {"model": wire.logged_model(created)}


def get(call: Call) -> dict[str, Any]:
    return {
        "model": wire.logged_model(call.client.store.logged_models.get(call.args.text("model_id")))
    }


def finalize(call: Call) -> dict[str, Any]:
    updated = call.client.store.logged_models.update(
        call.args.text("model_id"), status=_status(call.args.get("status")), actor=call.actor
    )
    return {"model": wire.logged_model(updated)}


def delete(call: Call) -> dict[str, Any]:
    call.client.store.logged_models.update(
        call.args.text("model_id"), lifecycle_stage="deleted", actor=call.actor
    )
    return {}


def set_tags(call: Call) -> dict[str, Any]:
    tags = mlflow_compat.check_tags(call.args.key_values("tags"))
    call.client.store.logged_models.update(
        call.args.text("model_id"), set_tags=tags, actor=call.actor
    )
    return {}


def delete_tag(call: Call) -> dict[str, Any]:
    call.client.store.logged_models.update(
        call.args.text("model_id"), delete_tag=call.args.text("tag_key"), actor=call.actor
    )
    return {}


def log_params(call: Call) -> dict[str, Any]:
    call.client.store.logged_models.update(
        call.args.text("model_id"), set_params=call.args.key_values("params"), actor=call.actor
    )
    return {}


def search(call: Call) -> dict[str, Any]:
    args = call.args
    if args.optional_text("filter"):
        raise InvalidInput("filtering logged models is not supported by Shipyard yet")
    ids = [experiment_id_of(str(i)) for i in args.items("experiment_ids")] or None
    found = call.client.store.logged_models.search(ids)
    limit = check_max_results(args.integer("max_results", 100))
    offset = offset_of(args.optional_text("page_token"))
    message: dict[str, Any] = {
        "models": [wire.logged_model(m) for m in found[offset : offset + limit]]
    }
    if offset + limit < len(found):
        message["next_page_token"] = token_for(offset + limit)
    return message


def list_artifacts(call: Call) -> dict[str, Any]:
    store = call.client.store
    found = store.logged_models.get(call.args.text("model_id"))
    root = mlflow_artifacts.logged_model_artifact_uri(found.experiment_id, found.id)
    relpath = mlflow_artifacts.parse_location(
        f"{root}/{call.args.get('artifact_directory_path', '')}"
    ).relpath
    listed = mlflow_artifacts.list_folder(store.logged_models.files(found.id), relpath)
    return {"root_uri": root, "files": wire.file_infos(listed, relpath)}


ROUTES = [
    ("POST", "/logged-models", create),
    ("POST", "/logged-models/search", search),
    ("GET", "/logged-models/{model_id}", get),
    ("PATCH", "/logged-models/{model_id}", finalize),
    ("DELETE", "/logged-models/{model_id}", delete),
    ("PATCH", "/logged-models/{model_id}/tags", set_tags),
    ("DELETE", "/logged-models/{model_id}/tags/{tag_key}", delete_tag),
    ("POST", "/logged-models/{model_id}/params", log_params),
    ("GET", "/logged-models/{model_id}/artifacts/directories", list_artifacts),
]


def router() -> APIRouter:
    routes = APIRouter()
    add_routes(routes, ROUTES)
    return routes
