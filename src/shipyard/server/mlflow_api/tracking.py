"""Experiments, runs, params, metrics, tags, inputs and run search (``service.proto``)."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter

from shipyard.entities import MetricPoint
from shipyard.errors import InvalidInput
from shipyard.names import check_name
from shipyard.query import Record, matches, parse_filter, parse_order_by
from shipyard.server.mlflow_api import wire
from shipyard.server.mlflow_api.paging import check_max_results, offset_of, token_for
from shipyard.server.mlflow_api.routing import Call, add_routes
from shipyard.tracking import mlflow_artifacts, mlflow_compat
from shipyard.tracking.mlflow_compat import experiment_id_of

_EXPERIMENT_ATTRIBUTES = {
    "name": "name",
    "experiment_id": "experiment_id",
    "creation_time": "creation_time",
    "last_update_time": "creation_time",
}
_VIEW_TYPES = {"ACTIVE_ONLY": ("active",), "DELETED_ONLY": ("deleted",), "ALL": None}


def _view(call: Call, key: str) -> tuple[str, ...] | None:
    view = call.args.text(key) if call.args.get(key) else "ACTIVE_ONLY"
    if view not in _VIEW_TYPES:
        raise InvalidInput(f"unknown {key} {view!r}; use one of {list(_VIEW_TYPES)}")
    return _VIEW_TYPES[view]


# -- experiments --------------------------------------------------------------------------
def get_experiment_by_name(call: Call) -> dict[str, Any]:
    name = call.args.text("experiment_name")
    found = call.client.store.tracking.get_experiment(name=name)
    return {"experiment": wire.experiment(found)}


def create_experiment(call: Call) -> dict[str, Any]:
    new = mlflow_compat.create_experiment(
        call.client.store,
        call.args.text("name"),
        call.args.key_values("tags"),
        actor=call.actor,
    )
    return {"experiment_id": str(new)}


def get_experiment(call: Call) -> dict[str, Any]:
    number = mlflow_compat.resolve_experiment_id(call.client.store, call.args.text("experiment_id"))
    return {
        "experiment": wire.experiment(
            call.client.store.tracking.get_experiment(experiment_id=number)
        )
    }


def search_experiments(call: Call) -> dict[str, Any]:
    args = call.args
    stages = _view(call, "view_type")
    expression = parse_filter(
        args.optional_text("filter"),
        attributes=_EXPERIMENT_ATTRIBUTES,
        numeric={"creation_time", "experiment_id"},
    )
    order = parse_order_by(args.items("order_by"), attributes=_EXPERIMENT_ATTRIBUTES)
    found = [
        e
        for e in call.client.store.tracking.list_experiments()
        if (stages is None or e.lifecycle_stage in stages)
        and matches(
            expression,
            Record({"name": e.name, "creation_time": e.created_at, "experiment_id": e.id}, e.tags),
        )
    ]
    found.sort(key=lambda e: -e.id)
    for clause in reversed(order):
        if clause.entity == "attribute":
            key = {"name": lambda e: e.name, "experiment_id": lambda e: e.id}.get(
                clause.key, lambda e: e.created_at
            )
            found.sort(key=key, reverse=clause.descending)
    limit = check_max_results(args.integer("max_results", 1000))
    offset = offset_of(args.optional_text("page_token"))
    page = found[offset : offset + limit]
    message: dict[str, Any] = {"experiments": [wire.experiment(e) for e in page]}
    if offset + limit < len(found):
        message["next_page_token"] = token_for(offset + limit)
    return message


def _set_stage(call: Call, stage: str) -> dict[str, Any]:
    number = experiment_id_of(call.args.text("experiment_id"))
    call.client.store.tracking.update_experiment(number, lifecycle_stage=stage, actor=call.actor)
    return {}


def delete_experiment(call: Call) -> dict[str, Any]:
    return _set_stage(call, "deleted")


def restore_experiment(call: Call) -> dict[str, Any]:
    return _set_stage(call, "active")


def update_experiment(call: Call) -> dict[str, Any]:
    number = experiment_id_of(call.args.text("experiment_id"))
    name = call.args.optional_text("new_name")
    if name is not None:
        check_name(name, "experiment")
    call.client.store.tracking.update_experiment(number, name=name, actor=call.actor)
    return {}


def set_experiment_tag(call: Call) -> dict[str, Any]:
    number = experiment_id_of(call.args.text("experiment_id"))
    tags = mlflow_compat.check_tags({call.args.text("key"): call.args.get("value", "")})
    for key, value in tags.items():
        call.client.store.tracking.set_experiment_tag(number, key, value, actor=call.actor)
    return {}


def delete_experiment_tag(call: Call) -> dict[str, Any]:
    number = experiment_id_of(call.args.text("experiment_id"))
    call.client.store.tracking.set_experiment_tag(
        number, call.args.text("key"), None, actor=call.actor
    )
    return {}


# -- runs ---------------------------------------------------------------------------------
def _run_id(call: Call) -> str:
    return call.args.text("run_id", "run_uuid")


def create_run(call: Call) -> dict[str, Any]:
    args = call.args
    run = mlflow_compat.start_run(
        call.client.store,
        experiment_id=mlflow_compat.resolve_experiment_id(
            call.client.store, str(args.get("experiment_id", "0")), actor=call.actor
        ),
        name=args.optional_text("run_name"),
        start_time=args.integer("start_time", int(time.time() * 1000)),
        tags=args.key_values("tags"),
        user=call.actor,
    )
    return {"run": wire.run(run)}


def update_run(call: Call) -> dict[str, Any]:
    args = call.args
    run_id = _run_id(call)
    status = args.optional_text("status")
    call.client.store.tracking.update_run(
        run_id,
        status=mlflow_compat.check_status(status) if status else None,
        end_time=args.integer("end_time") if args.get("end_time") is not None else None,
        name=args.optional_text("run_name"),
        actor=call.actor,
    )
    return {"run_info": wire.run_info(call.client.store.tracking.get_run(run_id))}


def _run_stage(call: Call, stage: str) -> dict[str, Any]:
    call.client.store.tracking.update_run(_run_id(call), lifecycle_stage=stage, actor=call.actor)
    return {}


def delete_run(call: Call) -> dict[str, Any]:
    return _run_stage(call, "deleted")


def restore_run(call: Call) -> dict[str, Any]:
    return _run_stage(call, "active")


def get_run(call: Call) -> dict[str, Any]:
    return {"run": wire.run(call.client.store.tracking.get_run(_run_id(call)))}


def log_metric(call: Call) -> dict[str, Any]:
    args = call.args
    point = mlflow_compat.metric_point(
        args.text("key"), args.get("value"), args.get("timestamp"), args.get("step")
    )
    mlflow_compat.log_batch(call.client.store, _run_id(call), metrics=[point])
    return {}


def log_param(call: Call) -> dict[str, Any]:
    args = call.args
    params = {args.text("key"): args.get("value", "")}
    mlflow_compat.log_batch(call.client.store, _run_id(call), params=params)
    return {}


def set_tag(call: Call) -> dict[str, Any]:
    args = call.args
    tags = {args.text("key"): args.get("value", "")}
    mlflow_compat.log_batch(call.client.store, _run_id(call), tags=tags)
    return {}


def delete_tag(call: Call) -> dict[str, Any]:
    call.client.store.tracking.delete_run_tag(
        _run_id(call), call.args.text("key"), actor=call.actor
    )
    return {}


def log_batch(call: Call) -> dict[str, Any]:
    args = call.args
    points: list[MetricPoint] = []
    linked: list[MetricPoint] = []
    for item in args.items("metrics"):
        if not isinstance(item, dict):
            raise InvalidInput("each metric must be an object with key, value, timestamp, step")
        point = mlflow_compat.metric_point(
            item.get("key"), item.get("value"), item.get("timestamp"), item.get("step")
        )
        (linked if item.get("model_id") else points).append(point)
    if linked:
        points += mlflow_compat.new_points(call.client.store, _run_id(call), linked)
    mlflow_compat.log_batch(
        call.client.store,
        _run_id(call),
        metrics=points,
        params=args.key_values("params"),
        tags=args.key_values("tags"),
    )
    return {}


def log_model(call: Call) -> dict[str, Any]:
    """MLflow 2's model record: appended to the run's ``mlflow.log-model.history`` tag."""
    run_id = _run_id(call)
    raw = call.args.text("model_json")
    try:
        model = json.loads(raw)
    except ValueError:
        raise InvalidInput("model_json is not valid JSON") from None
    run = call.client.store.tracking.get_run(run_id)
    try:
        history = json.loads(run.tags.get("mlflow.log-model.history", "[]"))
    except ValueError:
        history = []
    history.append(model)
    text = json.dumps(history)
    if len(text) > mlflow_compat.MAX_TAG_LENGTH:
        text = json.dumps([model])
    mlflow_compat.log_batch(call.client.store, run_id, tags={"mlflow.log-model.history": text})
    return {}


def log_inputs(call: Call) -> dict[str, Any]:
    mlflow_compat.log_inputs(call.client.store, _run_id(call), call.args.items("datasets"))
    return {}


def log_outputs(call: Call) -> dict[str, Any]:
    """MLflow 3 links logged models to the run; the logged model already names its run."""
    call.client.store.tracking.get_run(_run_id(call))
    return {}


def search_runs(call: Call) -> dict[str, Any]:
    args = call.args
    ids = [experiment_id_of(str(i)) for i in args.items("experiment_ids")]
    limit = check_max_results(args.integer("max_results", 1000))
    offset = offset_of(args.optional_text("page_token"))
    runs = call.client.store.tracking.search_runs(
        None,
        parse_filter(args.optional_text("filter")),
        parse_order_by(args.items("order_by")),
        limit + 1,
        experiment_ids=ids,
        lifecycle_stages=_view(call, "run_view_type"),
        offset=offset,
    )
    message: dict[str, Any] = {"runs": [wire.run(r) for r in runs[:limit]]}
    if len(runs) > limit:
        message["next_page_token"] = token_for(offset + limit)
    return message


def metric_history(call: Call) -> dict[str, Any]:
    points = call.client.store.tracking.metric_history(_run_id(call), call.args.text("metric_key"))
    return {
        "metrics": [
            {"key": p.key, "value": p.value, "timestamp": p.timestamp, "step": p.step}
            for p in points
        ]
    }


def list_artifacts(call: Call) -> dict[str, Any]:
    run = call.client.store.tracking.get_run(_run_id(call))
    root = mlflow_artifacts.run_artifact_uri(run.experiment_id, run.id)
    relpath = mlflow_artifacts.parse_location(f"{root}/{call.args.get('path', '')}").relpath
    listed = mlflow_artifacts.list_folder(list(run.artifacts), relpath)
    return {"root_uri": root, "files": wire.file_infos(listed, relpath)}


ROUTES = [
    ("GET", "/experiments/get-by-name", get_experiment_by_name),
    ("POST", "/experiments/create", create_experiment),
    ("GET", "/experiments/get", get_experiment),
    ("POST", "/experiments/search", search_experiments),
    ("GET", "/experiments/search", search_experiments),
    ("POST", "/experiments/delete", delete_experiment),
    ("POST", "/experiments/restore", restore_experiment),
    ("POST", "/experiments/update", update_experiment),
    ("POST", "/experiments/set-experiment-tag", set_experiment_tag),
    ("POST", "/experiments/delete-experiment-tag", delete_experiment_tag),
    ("POST", "/runs/create", create_run),
    ("POST", "/runs/update", update_run),
    ("POST", "/runs/delete", delete_run),
    ("POST", "/runs/restore", restore_run),
    ("GET", "/runs/get", get_run),
    ("POST", "/runs/log-metric", log_metric),
    ("POST", "/runs/log-parameter", log_param),
    ("POST", "/runs/set-tag", set_tag),
    ("POST", "/runs/delete-tag", delete_tag),
    ("POST", "/runs/log-batch", log_batch),
    ("POST", "/runs/log-model", log_model),
    ("POST", "/runs/log-inputs", log_inputs),
    ("POST", "/runs/outputs", log_outputs),
    ("POST", "/runs/search", search_runs),
    ("GET", "/metrics/get-history", metric_history),
    ("GET", "/artifacts/list", list_artifacts),
]


def router() -> APIRouter:
    routes = APIRouter()
    add_routes(routes, ROUTES)
    return routes
