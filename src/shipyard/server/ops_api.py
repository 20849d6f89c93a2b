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

import inspect
import io
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi import Body as BodyParam
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from shipyard.errors import InvalidInput, NotFound
from shipyard.names import NAME_MAX_LENGTH, NAME_PATTERN
from shipyard.sdk.client import Client
from shipyard.sdk.operations import Operation, operations_of
from shipyard.sdk.remote import PARQUET
from shipyard.server.errors import error_responses

SHA256_PATTERN = r"^[0-9a-f]{64}$"
FILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$"


class UploadRef(BaseModel):
    """Data handed to an operation: an uploaded file or folder (by hash) or a plain value."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["file", "tree", "value"]
    sha256: Annotated[str | None, Field(pattern=SHA256_PATTERN)] = None
    name: Annotated[str | None, Field(pattern=FILE_NAME_PATTERN)] = None
    value: str | int | float | None = None


def build_router() -> APIRouter:
    router = APIRouter(tags=["operations"], responses=error_responses(400, 404, 409, 422))
    for op in sorted(operations_of(Client).values(), key=lambda o: o.name):
        body, fields = _body_model(op)
        returns = op.hints.get("return")
        router.add_api_route(
            op.path,
            _endpoint(op, body, fields),
            methods=["POST"],
            name=f"op_{op.name}",
            summary=op.name,
            description=inspect.getdoc(op.function) or "",
            response_model=_documented(returns),
            response_class=JSONResponse,
        )
    return router


def _documented(returns: Any) -> Any:
    """The result type for the OpenAPI document, when it has a JSON schema."""
    if returns is None or returns is Any:
        return None
    try:
        TypeAdapter(returns).json_schema(mode="serialization")
    except Exception:
        return None
    return returns


def _body_model(op: Operation) -> tuple[type[BaseModel] | None, list[str]]:
    fields: dict[str, Any] = {}
    for parameter in op.wire_parameters():
        if parameter.name in op.path_params:
            continue
        hint = UploadRef | None if parameter.name in op.uploads else op.hints[parameter.name]
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (hint, default)
    if not fields:
        return None, []
    camel = "".join(part.title() for part in op.name.split("_"))
    model = create_model(f"{camel}Arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return model, list(fields)


def _endpoint(op: Operation, body: type[BaseModel] | None, fields: list[str]) -> Any:
    returns = op.hints.get("return")
    adapter: TypeAdapter[Any] | None = None if returns is None else TypeAdapter(returns)

    def endpoint(request: Request, **kwargs: Any) -> Response:
        client: Client = request.app.state.client
        payload = kwargs.pop("body", None)
        arguments = dict(kwargs)
        if payload is not None:
            arguments.update({name: getattr(payload, name) for name in fields})
        with tempfile.TemporaryDirectory(prefix="shipyard-op-") as temp:
            for name in op.uploads:
                arguments[name] = _materialize(client, arguments.get(name), Path(temp))
            result = op.function(client, **arguments)
            return _encode(result, adapter)

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
    if body is not None:
        parameters.append(
            inspect.Parameter(
                "body", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[body, BodyParam()]
            )
        )
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    endpoint.__name__ = f"op_{op.name}"
    return endpoint


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
