"""Registered models, versions, aliases and tags (``model_registry.proto``).

A version created here is an ordinary Shipyard version (``mlflow`` flavor),
registered from the files the client uploaded; every version, however it was
registered, downloads through ``registry/<model>/<version>``. Stages are not
a Shipyard concept (aliases are): versions report stage ``None``, and moving
one is refused with a message that points at aliases.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shipyard.entities import ModelVersion
from shipyard.errors import InvalidInput, ModelNotFound
from shipyard.names import check_alias, check_name
from shipyard.query import BoolOp, Comparison, Expression, Record, matches, parse_filter
from shipyard.registry.mlflow_source import register_mlflow_source
from shipyard.security.permissions import Permission
from shipyard.server.mlflow_api import wire
from shipyard.server.mlflow_api.paging import check_max_results, offset_of, token_for
from shipyard.server.mlflow_api.routing import Call, add_routes
from shipyard.tracking.mlflow_artifacts import version_artifact_uri

_MODEL_ATTRIBUTES = {"name": "name"}
_VERSION_ATTRIBUTES = {
    "name": "name",
    "run_id": "run_id",
    "version_number": "version",
    "source_path": "source",
}
UNTRUSTED_HINT = (
    "This server refuses models that run code when loaded; log it with "
    "serialization_format='skops' (MLflow 3's default), or start the server with "
    "SHIPYARD_TRUST_UPLOADED_CODE=true (shipyard serve --trust-uploaded-code) if every "
    "client that may register is trusted."
)


def _name(call: Call, permission: Permission = Permission.READ) -> str:
    name = check_name(call.args.text("name"))
    call.require(permission, model=name)
    return name


def _version_number(call: Call) -> int:
    text = call.args.text("version")
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(f"version must be a number, got {text!r}") from None


def _version(call: Call, permission: Permission = Permission.READ) -> ModelVersion:
    name = _name(call, permission)
    return call.client.get_model_version(name, _version_number(call))


def _page(call: Call, items: list[Any], default: int) -> tuple[list[Any], str | None]:
    limit = check_max_results(call.args.integer("max_results", default), 200_000)
    offset = offset_of(call.args.optional_text("page_token"))
    more = offset + limit < len(items)
    return items[offset : offset + limit], token_for(offset + limit) if more else None


# -- registered models ----------------------------------------------------------------------
def create_model(call: Call) -> dict[str, Any]:
    name = _name(call, Permission.REGISTER)
    created = call.client.store.registry.create_model(
        name,
        description=str(call.args.get("description", "")),
        tags=call.args.key_values("tags"),
        actor=call.actor,
    )
    return {"registered_model": wire.registered_model(created)}


def _model_message(call: Call, name: str) -> dict[str, Any]:
    model = call.client.get_model(name)
    latest = call.client.get_model_version(name, "latest") if model.latest_version else None
    return wire.registered_model(model, latest)


def get_model(call: Call) -> dict[str, Any]:
    return {"registered_model": _model_message(call, _name(call))}


def update_model(call: Call) -> dict[str, Any]:
    name = _name(call, Permission.REGISTER)
    description = call.args.get("description")
    if description is not None:
        call.client.set_description(name, str(description))
    return {"registered_model": _model_message(call, name)}


def unsupported(call: Call) -> dict[str, Any]:
    raise InvalidInput(
        "Shipyard keeps every registered model and version (deployments and the audit "
        "trail refer to them): renaming and deleting are not supported"
    )


def transition_stage(call: Call) -> dict[str, Any]:
    raise InvalidInput(
        "Shipyard uses aliases instead of stages: set an alias (e.g. 'challenger') with "
        "set_registered_model_alias"
    )


def search_models(call: Call) -> dict[str, Any]:
    expression = parse_filter(call.args.optional_text("filter"), attributes=_MODEL_ATTRIBUTES)
    found = [
        m
        for m in call.client.list_models()
        if matches(expression, Record({"name": m.name}, m.tags))
    ]
    if any("desc" in str(o).lower() for o in call.args.items("order_by")):
        found.reverse()
    page, token = _page(call, found, 100)
    message: dict[str, Any] = {"registered_models": [wire.registered_model(m) for m in page]}
    if token:
        message["next_page_token"] = token
    return message


def latest_versions(call: Call) -> dict[str, Any]:
    name = _name(call)
    model = call.client.get_model(name)
    if not model.latest_version:
        return {"model_versions": []}
    return {"model_versions": [wire.model_version(call.client.get_model_version(name, "latest"))]}


def set_model_tag(call: Call) -> dict[str, Any]:
    name = _name(call, Permission.REGISTER)
    call.client.set_model_tag(name, call.args.text("key"), str(call.args.get("value", "")))
    return {}


def delete_model_tag(call: Call) -> dict[str, Any]:
    name = _name(call, Permission.REGISTER)
    call.client.store.registry.delete_tag(
        name, call.args.text("key"), version=None, actor=call.actor
    )
    return {}


# -- aliases --------------------------------------------------------------------------------
def set_alias(call: Call) -> dict[str, Any]:
    name = check_name(call.args.text("name"))
    alias = check_alias(call.args.text("alias"))
    call.require_alias(name, alias)
    call.client.set_alias(name, alias, _version_number(call))
    return {}


def delete_alias(call: Call) -> dict[str, Any]:
    name = check_name(call.args.text("name"))
    alias = call.args.text("alias")
    call.require_alias(name, alias)
    call.client.delete_alias(name, alias)
    return {}


def get_alias(call: Call) -> dict[str, Any]:
    name = _name(call)
    found = call.client.get_model_version_by_alias(name, call.args.text("alias"))
    return {"model_version": wire.model_version(found)}


# -- versions -------------------------------------------------------------------------------
def create_version(call: Call) -> dict[str, Any]:
    name = _name(call, Permission.REGISTER)
    version = register_mlflow_source(
        call.client.store,
        name=name,
        source=call.args.text("source"),
        model_id=call.args.optional_text("model_id"),
        run_id=call.args.optional_text("run_id"),
        description=str(call.args.get("description", "")),
        tags=call.args.key_values("tags"),
        trust=call.trust_pickle,
        untrusted_hint=UNTRUSTED_HINT,
        actor=call.actor,
    )
    return {"model_version": wire.model_version(version)}


def get_version(call: Call) -> dict[str, Any]:
    return {"model_version": wire.model_version(_version(call))}


def update_version(call: Call) -> dict[str, Any]:
    found = _version(call, Permission.REGISTER)
    description = call.args.get("description")
    if description is not None:
        call.client.set_description(found.name, str(description), version=found.version)
        found = call.client.get_model_version(found.name, found.version)
    return {"model_version": wire.model_version(found)}


def download_uri(call: Call) -> dict[str, Any]:
    found = _version(call)
    return {"artifact_uri": version_artifact_uri(found.name, found.version)}


def set_version_tag(call: Call) -> dict[str, Any]:
    found = _version(call, Permission.REGISTER)
    call.client.set_version_tag(
        found.name, found.version, call.args.text("key"), str(call.args.get("value", ""))
    )
    return {}


def delete_version_tag(call: Call) -> dict[str, Any]:
    found = _version(call, Permission.REGISTER)
    call.client.store.registry.delete_tag(
        found.name, call.args.text("key"), version=found.version, actor=call.actor
    )
    return {}


def _named(expression: Expression | None) -> str | None:
    """The model a filter pins with ``name = '...'`` (so only its versions are read)."""
    if isinstance(expression, Comparison):
        if expression.entity == "attribute" and expression.key == "name" and expression.op == "=":
            return str(expression.value)
    elif isinstance(expression, BoolOp) and expression.op == "AND":
        for item in expression.items:
            if (name := _named(item)) is not None:
                return name
    return None


def search_versions(call: Call) -> dict[str, Any]:
    expression = parse_filter(
        call.args.optional_text("filter"), attributes=_VERSION_ATTRIBUTES, numeric={"version"}
    )
    pinned = _named(expression)
    names = [pinned] if pinned is not None else [m.name for m in call.client.list_models()]
    found = []
    for name in names:
        try:
            versions = call.client.list_model_versions(name)
        except ModelNotFound:
            continue
        for v in versions:
            message = wire.model_version(v)
            record = Record(
                {
                    "name": v.name,
                    "run_id": v.run_id,
                    "version": v.version,
                    "source": message["source"],
                },
                v.tags,
            )
            if matches(expression, record):
                found.append(message)
    found.sort(key=lambda m: (m["name"], -int(m["version"])))
    page, token = _page(call, found, 10_000)
    result: dict[str, Any] = {"model_versions": page}
    if token:
        result["next_page_token"] = token
    return result


ROUTES = [
    ("POST", "/registered-models/create", create_model),
    ("GET", "/registered-models/get", get_model),
    ("GET", "/registered-models/search", search_models),
    ("PATCH", "/registered-models/update", update_model),
    ("POST", "/registered-models/rename", unsupported),
    ("DELETE", "/registered-models/delete", unsupported),
    ("POST", "/registered-models/get-latest-versions", latest_versions),
    ("GET", "/registered-models/get-latest-versions", latest_versions),
    ("POST", "/registered-models/set-tag", set_model_tag),
    ("DELETE", "/registered-models/delete-tag", delete_model_tag),
    ("POST", "/registered-models/alias", set_alias),
    ("DELETE", "/registered-models/alias", delete_alias),
    ("GET", "/registered-models/alias", get_alias),
    ("POST", "/model-versions/create", create_version),
    ("GET", "/model-versions/get", get_version),
    ("PATCH", "/model-versions/update", update_version),
    ("POST", "/model-versions/transition-stage", transition_stage),
    ("DELETE", "/model-versions/delete", unsupported),
    ("GET", "/model-versions/search", search_versions),
    ("GET", "/model-versions/get-download-uri", download_uri),
    ("POST", "/model-versions/set-tag", set_version_tag),
    ("DELETE", "/model-versions/delete-tag", delete_version_tag),
]


def router() -> APIRouter:
    routes = APIRouter()
    add_routes(routes, ROUTES)
    return routes
