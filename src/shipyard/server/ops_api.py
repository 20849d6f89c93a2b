"""Every ``@operation`` of the ``Client`` as a route: ``POST /api/ops/<name>``.

The remote SDK back end calls these (``sdk/remote.py``). Each route is made
from the operation's signature: the body is a pydantic model of its
arguments, the answer its result as the return type hint describes it, a
narrowing argument (a model or deployment name) sits in the path where the
one authorization point (``server/auth.py``) checks it against the token, and
the permission comes from the declaration (``route_permissions`` reads the
same table). The server's direct client runs the method body with the
caller's identity in the audit context, exactly as a local call would.
"""

from __future__ import annotations

import functools
import inspect
import io
import json
import re
import tempfile
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from shipyard.errors import InvalidInput, NotFound
from shipyard.names import NAME_MAX_LENGTH, NAME_PATTERN
from shipyard.sdk.client import Client
from shipyard.sdk.operations import Operation, operations_of
from shipyard.sdk.remote import PARQUET
from shipyard.server.errors import error_responses
from shipyard.server.schemas import MAX_ID

SHA256_PATTERN = r"^[0-9a-f]{64}$"
URI_SCHEMES = ("datasets:/", "models:/", "runs:/")
FILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$"


class UploadRef(BaseModel):
    """Data handed to an operation: an uploaded file or folder (by hash) or a plain value."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["file", "tree", "value"]
    sha256: Annotated[str | None, Field(pattern=SHA256_PATTERN)] = None
    name: Annotated[str | None, Field(pattern=FILE_NAME_PATTERN)] = None
    value: str | int | float | None = None


#: Where the argument and result schemas live in ``/openapi.json``.
SCHEMA_PREFIX = "op."
_REF = f"#/components/schemas/{SCHEMA_PREFIX}{{model}}"


@dataclass(frozen=True)
class _Wire:
    """What an operation's route needs, built once per process: pydantic models and
    schemas cost ~20 ms an operation, and tests make many apps."""

    body: type[BaseModel] | None
    fields: list[str]
    result: TypeAdapter[Any] | None
    request_doc: dict[str, Any] | None
    responses: dict[int | str, dict[str, Any]]
    schemas: dict[str, Any]


def build_router() -> tuple[APIRouter, dict[str, Any]]:
    """The operation routes and the JSON schemas their documentation refers to."""
    router = APIRouter(tags=["operations"], responses=error_responses(400, 404, 409, 422))
    schemas: dict[str, Any] = {}
    operations = operations_of(Client)
    for name in sorted(operations):
        op = operations[name]
        wire = _wire(name)
        schemas.update(wire.schemas)
        router.add_api_route(
            op.path,
            _endpoint(op, wire),
            methods=["POST"],
            name=f"op_{op.name}",
            summary=op.name,
            description=inspect.getdoc(op.function) or "",
            response_model=None,  # documented below; the endpoint answers a Response
            responses=wire.responses,
            openapi_extra=wire.request_doc,
        )
    return router, schemas


@functools.cache
def _wire(name: str) -> _Wire:
    op = operations_of(Client)[name]
    schemas: dict[str, Any] = {}
    body, fields = _body_model(op)
    request_doc = None
    if body is not None:
        ref = {"schema": _hoist(body.model_json_schema(ref_template=_REF), body.__name__, schemas)}
        request_doc = {"requestBody": {"required": True, "content": {"application/json": ref}}}
    returns = op.hints.get("return")
    result = None if returns is None else TypeAdapter(returns)
    return _Wire(body, fields, result, request_doc, _responses(op, returns, schemas), schemas)


def _responses(op: Operation, returns: Any, schemas: dict[str, Any]) -> dict[int | str, Any]:
    """The success answer's documentation: the result's schema, Parquet for an untyped
    result (a table), nothing more for a result whose schema cannot be written."""
    if returns is Any:
        binary = {"schema": {"type": "string", "format": "binary"}}
        return {200: {"content": {"application/json": {"schema": {}}, PARQUET: binary}}}
    if returns is None:
        return {200: {"content": {"application/json": {"schema": {"type": "null"}}}}}
    camel = "".join(part.title() for part in op.name.split("_")) + "Result"
    try:
        schema = TypeAdapter(returns).json_schema(mode="serialization", ref_template=_REF)
    except Exception:  # pydantic raises several kinds; undocumented is fine
        return {}
    if "prefixItems" in json.dumps(schema):  # FastAPI rewrites tuples in a form 3.1 rejects
        return {}
    return {200: {"content": {"application/json": {"schema": _hoist(schema, camel, schemas)}}}}


def _hoist(schema: dict[str, Any], name: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """Move a schema and its definitions into the document's components; answer a $ref."""
    for key, definition in schema.pop("$defs", {}).items():
        schemas[SCHEMA_PREFIX + key] = definition
    schemas[SCHEMA_PREFIX + name] = schema
    return {"$ref": _REF.format(model=name)}


def document_operations(api: FastAPI, schemas: dict[str, Any]) -> None:
    """Add the operations' schemas to ``/openapi.json``."""
    build = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema:
            return api.openapi_schema
        document = build()
        document.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        return document

    api.openapi = openapi  # type: ignore[method-assign]


def _body_model(op: Operation) -> tuple[type[BaseModel] | None, list[str]]:
    fields: dict[str, Any] = {}
    for parameter in op.wire_parameters():
        if parameter.name in op.path_params:
            continue
        required = parameter.default is inspect.Parameter.empty
        if parameter.name in op.uploads:
            hint: Any = UploadRef if required else UploadRef | None
        else:
            hint = _bounded(parameter.name, op.hints[parameter.name])
        default = ... if required else parameter.default
        fields[parameter.name] = (hint, default)
    if not fields:
        return None, []
    camel = "".join(part.title() for part in op.name.split("_"))
    config = ConfigDict(extra="forbid", strict=True)
    model = create_model(f"{camel}Arguments", __config__=config, **fields)
    return model, list(fields)


#: Ids, versions and limits fit the store's integer columns; other integers
#: (timestamps in ms, steps) fit 64 bits.
RecordInt = Annotated[int, Field(ge=0, le=MAX_ID)]
WideInt = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]


def _bounded(name: str, hint: Any) -> Any:
    """``int`` (alone or optional) bounded to what the store can hold: a larger number is
    a 422 here, not an overflow in the database."""
    bounded = RecordInt if name in ("version", "limit") or name.endswith("_id") else WideInt
    if hint is int:
        return bounded
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if int in options:
            return typing.Union[tuple(bounded if o is int else o for o in options)]  # noqa: UP007
    return hint


def _endpoint(op: Operation, wire: _Wire) -> Any:
    body, fields, adapter = wire.body, wire.fields, wire.result

    def run(client: Client, arguments: dict[str, Any]) -> Response:
        if not op.uploads:
            return _encode(op.function(client, **arguments), adapter)
        with tempfile.TemporaryDirectory(prefix="shipyard-op-") as temp:
            for name in op.uploads:
                arguments[name] = _materialize(client, arguments.get(name), Path(temp))
            return _encode(op.function(client, **arguments), adapter)

    async def endpoint(request: Request, **kwargs: Any) -> Response:
        arguments = dict(kwargs)
        if body is not None:
            payload = await _read_body(request, body)
            arguments.update({name: getattr(payload, name) for name in fields})
        return await run_in_threadpool(run, request.app.state.client, arguments)

    parameters = [inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)]
    for name in op.path_params:
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[
                    str, PathParam(pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH)
                ],
            )
        )
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    endpoint.__name__ = f"op_{op.name}"
    return endpoint


async def _read_body(request: Request, body: type[BaseModel]) -> BaseModel:
    """The arguments, validated strictly from the JSON text: a string is not a number, a
    boolean is not an integer, so what the schema refuses the server refuses too."""
    raw = await request.body()
    if not raw.strip():
        raise RequestValidationError(
            [
                {
                    "type": "missing",
                    "loc": ("body",),
                    "msg": "a JSON object of arguments is required ({} for all defaults)",
                }
            ]
        )
    try:
        return body.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in errors]
        ) from None


def _encode(result: Any, adapter: TypeAdapter[Any] | None) -> Response:
    if type(result).__name__ == "DataFrame":  # a table travels as Parquet, typed and compact
        buffer = io.BytesIO()
        result.to_parquet(buffer, index=False)
        return Response(buffer.getvalue(), media_type=PARQUET)
    content = None if adapter is None else adapter.dump_python(result, mode="json")
    return JSONResponse(content)


def _materialize(client: Client, ref: UploadRef | None, temp: Path) -> Any:
    """The local copy an operation reads: a verified file or folder under ``temp``."""
    if ref is None:
        return None
    if ref.kind == "value":
        if not (isinstance(ref.value, str) and ref.value.startswith(URI_SCHEMES)):
            raise InvalidInput(
                "a value in place of data must be a datasets:/, models:/ or runs:/ URI "
                "(files and frames are uploaded; the server's own paths are not readable here)"
            )
        return ref.value
    if ref.sha256 is None:
        raise InvalidInput(f"an uploaded {ref.kind} needs its sha256")
    artifacts = client.store.artifacts
    if not artifacts.exists(ref.sha256):
        raise NotFound(f"no uploaded artifact {ref.sha256}; upload it first (PUT /api/artifacts)")
    if ref.kind == "tree":
        return artifacts.open_tree(ref.sha256).materialize(temp)
    name = ref.name or "upload"
    if not re.fullmatch(FILE_NAME_PATTERN, name):
        raise InvalidInput(f"invalid upload name {name!r}")
    target = temp / name
    artifacts.copy_to(ref.sha256, target)
    return target
