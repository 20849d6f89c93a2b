"""How an MLflow RPC becomes a route: arguments in, one handler call, JSON out.

MLflow sends GET arguments as query parameters and everything else (DELETE
too) as a JSON body. Each handler takes a ``Call`` (the arguments, the
``shipyard.Client`` and who is calling) and returns the response message as a
dict; errors are ``ShipyardError``s, rendered in MLflow's shape by
``server/errors.py``. Handlers run in the thread pool: they touch the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from shipyard.errors import InvalidInput
from shipyard.sdk.client import Client
from shipyard.security.permissions import PROTECTED_ALIASES, Permission
from shipyard.security.principal import Principal
from shipyard.server.mlflow_api.errors import PermissionDenied
from shipyard.store.audit_context import current_audit_context

#: Both trees MLflow serves the same RPCs under (the UI uses ``/ajax-api``).
API_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
MAX_JSON_BYTES = 32 * 1024 * 1024


class Args:
    """An RPC's arguments, read with the type MLflow's proto gives them."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def get(self, key: str, default: Any = None) -> Any:
        value = self.data.get(key)
        return default if value is None else value

    def text(self, key: str, *alternatives: str) -> str:
        for name in (key, *alternatives):
            value = self.data.get(name)
            if value is not None and value != "":
                if not isinstance(value, str | int | float) or isinstance(value, bool):
                    raise InvalidInput(f"{name!r} must be a string, got {value!r}")
                return str(value)
        raise InvalidInput(f"missing value for required parameter {key!r}")

    def optional_text(self, key: str) -> str | None:
        return self.text(key) if self.data.get(key) not in (None, "") else None

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.data.get(key)
        if value is None or value == "":
            if default is None:
                raise InvalidInput(f"missing value for required parameter {key!r}")
            return default
        if isinstance(value, bool):
            raise InvalidInput(f"{key!r} must be an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"{key!r} must be an integer, got {value!r}") from None

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    def key_values(self, key: str) -> dict[str, str]:
        """A repeated ``{key, value}`` message as a dict."""
        result = {}
        for item in self.items(key):
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                raise InvalidInput(f"each of {key!r} needs a string 'key' and a 'value'")
            value = item.get("value")
            result[item["key"]] = "" if value is None else str(value)
        return result


@dataclass
class Call:
    args: Args
    client: Client
    principal: Principal | None
    trust_pickle: bool

    @property
    def actor(self) -> str:
        """Who the audit trail and the records name (the token's owner when auth is on)."""
        if self.principal is not None:
            return self.principal.name
        return current_audit_context().actor or self.client.actor

    def require(self, permission: Permission, *, model: str | None = None) -> None:
        """Check a permission against a model named in the body (routes check path names)."""
        if self.principal is None:
            return
        reason = self.principal.denial(permission, model=model)
        if reason is not None:
            raise PermissionDenied(f"{reason}{f' (model {model!r})' if model else ''}")

    def require_alias(self, model: str, alias: str) -> None:
        if alias in PROTECTED_ALIASES:
            self.require(Permission.SET_PROTECTED_ALIAS, model=model)
        else:
            self.require(Permission.REGISTER, model=model)


Handler = Callable[[Call], dict[str, Any]]


async def read_args(request: Request) -> Args:
    data: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in data:
            previous = data[key]
            data[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            data[key] = value
    if request.method != "GET":
        body = await request.body()
        if len(body) > MAX_JSON_BYTES:
            raise InvalidInput(f"the JSON body is over {MAX_JSON_BYTES} bytes")
        if body.strip():
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"the body is not valid JSON: {exc}") from None
            if not isinstance(parsed, dict):
                raise InvalidInput("the body must be a JSON object")
            data.update(parsed)
    data.update(request.path_params)
    return Args(data)


def json_response(message: dict[str, Any]) -> Response:
    return Response(orjson.dumps(message), media_type="application/json")


def make_call(request: Request, args: Args) -> Call:
    principal = getattr(request.state, "principal", None)
    return Call(
        args,
        request.app.state.client,
        principal if isinstance(principal, Principal) else None,
        request.app.state.client.settings.trust_uploaded_code,
    )


def endpoint(handler: Handler) -> Callable[[Request], Any]:
    async def run(request: Request) -> Response:
        call = make_call(request, await read_args(request))
        return json_response(await run_in_threadpool(handler, call))

    run.__name__ = handler.__name__
    return run


def add_routes(router: APIRouter, table: Sequence[tuple[str, str, Handler]]) -> None:
    for method, path, handler in table:
        for prefix in API_PREFIXES:
            router.add_api_route(
                prefix + path, endpoint(handler), methods=[method], include_in_schema=False
            )
