"""Authentication and authorization for every HTTP route, in one place.

A pure ASGI app in front of everything (no per-request task group or
streams, which ``BaseHTTPMiddleware`` would add): it finds the route's rule
in ``route_permissions.ROUTES``, lets the open liveness/readiness routes
through, reads the bearer token from the in-memory ``AccessTable`` (no
database query), and answers 401 without valid credentials or 403 naming the
missing permission - before the route runs, so neither answer reveals whether
the named model or deployment exists. A route the app has but the table does
not is refused (fail closed). The caller, request id and client address are
set as the audit context of the request, so every change it makes is
recorded under its name. On dashboard paths (``/ui``) a signed session cookie
(``server/ui/sessions.py``) stands in for the header, resolved through the same
token table, and an anonymous browser is sent to the sign-in page (303).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import FastAPI
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from shipyard.security.access_table import AccessTable
from shipyard.security.denials import Denial, DenialLog
from shipyard.security.principal import Principal
from shipyard.server.mlflow_api.errors import is_mlflow_path
from shipyard.server.protocols import mlflow, oip
from shipyard.server.route_permissions import ROUTES, Rule, denial
from shipyard.server.ui.refusal import refusal_page
from shipyard.server.ui.sessions import LOCAL, SessionCodec, read_cookie
from shipyard.store.audit_context import audit_context

logger = logging.getLogger(__name__)

Compiled = tuple[str, re.Pattern[str], str]


def app_routes(routes: list[BaseRoute]) -> Iterator[tuple[str, str]]:
    """Every (method, path template) an app serves, included routers too (read from the app)."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            prefix = str(getattr(getattr(route, "include_context", None), "prefix", "") or "")
            for method, path in app_routes(original.routes):
                yield method, prefix + path
            continue
        template = getattr(route, "path", None)
        if not isinstance(template, str):
            continue
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                yield method, template


def document_access(api: FastAPI) -> None:
    """Say in ``/openapi.json`` what this layer answers: the bearer scheme on every route
    that needs a token, and its 401 and 403 (in the error shape of the route's protocol)."""
    build = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema:
            return api.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (shp_...) from `shipyard tokens create`.",
        }
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                rule = ROUTES.get((method.upper(), path))
                if rule is not None and rule.anyone:
                    continue
                operation["security"] = [{"bearer": []}]
                body = "OipErrorBody" if path == "/v2" or path.startswith("/v2/") else "ErrorBody"
                content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", {"description": "Unauthorized", "content": content})
                responses.setdefault("403", {"description": "Forbidden", "content": content})
        return schema

    api.openapi = openapi  # type: ignore[method-assign]


def _compile(pairs: list[tuple[str, str]]) -> list[Compiled]:
    return [(method, compile_path(path)[0], path) for method, path in pairs]


class AuthApp:
    def __init__(
        self,
        app: ASGIApp,
        table: AccessTable | None,
        *,
        served_routes: list[tuple[str, str]],
        open_metrics: bool = False,
        default_deployment: str = "",
        denials: DenialLog | None = None,
        sessions: SessionCodec | None = None,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.denials = denials
        self.fallback = getattr(app, "fallback", app)  # the FastAPI app behind predict
        self.table = table
        self.open_metrics = open_metrics
        self.default_deployment = default_deployment
        self._rules = _compile(list(ROUTES))
        self._served = _compile(served_routes)
        self._cache: dict[tuple[str, str], tuple[str, dict[str, str], Rule] | None] = {}

    def _resolve(self, method: str, path: str) -> tuple[str, dict[str, str], Rule] | None:
        """(template, path parameters, rule) for this request; cached per path, since a
        server sees the same few deployment paths over and over."""
        method = "GET" if method == "HEAD" else method
        key = (method, path)
        if key in self._cache:
            return self._cache[key]
        found = None
        for wanted, pattern, template in self._rules:
            if wanted == method:
                match = pattern.match(path)
                if match is not None:
                    found = template, match.groupdict(), ROUTES[(method, template)]
                    break
        if len(self._cache) < 10_000:
            self._cache[key] = found
        return found

    def _served_without_rule(self, method: str, path: str) -> bool:
        method = "GET" if method == "HEAD" else method
        return any(m == method and p.match(path) for m, p, _ in self._served)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        resolved = self._resolve(method, path)
        rule = resolved[2] if resolved else None
        if (
            self.table is None
            or (rule is not None and rule.anyone)
            or (self.open_metrics and path == "/metrics")
        ):
            await self.app(scope, receive, send)
            return
        principal = self.table.authenticate(_header(scope, b"authorization"))
        dashboard = self.sessions is not None and (path == "/ui" or path.startswith("/ui/"))
        if principal is None and dashboard:
            principal = self._session_principal(scope)
        route = resolved[0] if resolved else path
        if principal is None:
            self._record(scope, "anonymous", 401, route, "no valid token")
            if dashboard:  # a person at a browser: to the sign-in page, not a JSON 401
                await _to_sign_in(send, path if method in ("GET", "HEAD") else "/ui")
                return
            await _deny(
                send,
                path,
                401,
                "valid credentials are required: send Authorization: "
                "Bearer <token> (shipyard tokens create makes one)",
            )
            return
        if rule is None:
            if self._served_without_rule(method, path):  # fail closed
                self._record(scope, principal.actor, 403, path, "no declared permission")
                await _deny(send, path, 403, f"{method} {path} has no declared permission")
                return
            await self._call_as(principal, scope, receive, send)  # the app answers 404/405
            return
        assert resolved is not None
        denial = self._denial(principal, rule, resolved[1], path)
        if denial is not None:
            logger.info("denied %s %s to %s: %s", method, route, principal.actor, denial)
            self._record(scope, principal.actor, 403, route, denial)
            await _deny(send, path, 403, f"{method} {route}: {denial}")
            return
        if rule.audited:
            await self._call_as(principal, scope, receive, send)
        else:  # predictions change nothing the audit trail records: skip its context
            await self.app(scope, receive, send)

    def _denial(
        self, principal: Principal, rule: Rule, params: dict[str, str], path: str
    ) -> str | None:
        default = self.default_deployment or None if path.strip("/") == "invocations" else None
        return denial(principal, rule, params, default_deployment=default)

    def _session_principal(self, scope: Scope) -> Principal | None:
        """The principal behind a dashboard session cookie, through the same token table
        (so a revoked token or a disabled user ends the session too); the session is kept
        in the request's state for the CSRF check."""
        assert self.sessions is not None and self.table is not None
        session = self.sessions.verify(read_cookie(_header(scope, b"cookie")))
        if session is None or session.subject == LOCAL:
            return None
        principal = self.table.authenticate_hash(session.subject)
        if principal is not None:
            scope.setdefault("state", {})["ui_session"] = session
        return principal

    def _record(self, scope: Scope, actor: str, status: int, route: str, reason: str) -> None:
        if self.denials is not None:
            client = scope.get("client")
            self.denials.record(
                Denial(
                    actor,
                    status,
                    scope["method"],
                    route,
                    reason,
                    client[0] if client else None,
                    _header(scope, b"x-request-id"),
                )
            )

    async def _call_as(
        self, principal: Principal, scope: Scope, receive: Receive, send: Send
    ) -> None:
        client = scope.get("client")
        scope.setdefault("state", {})["principal"] = principal  # request.state.principal
        with audit_context(
            request_id=_header(scope, b"x-request-id"),
            client_address=f"{client[0]}:{client[1]}" if client else None,
            actor=principal.actor,
        ):
            await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _to_sign_in(send: Send, after: str) -> None:
    """303 to the dashboard's sign-in page, coming back to ``after`` once signed in."""
    location = "/ui/login?" + urlencode({"next": after})
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _deny(send: Send, path: str, status: int, message: str) -> None:
    """401/403 in the shape of the protocol the path belongs to."""
    if path == "/ui" or path.startswith("/ui/"):
        await _send(send, status, refusal_page(status, message), b"text/html; charset=utf-8")
        return
    if path.startswith("/v2"):
        body = oip.error(message)
    elif path.rstrip("/").endswith("invocations") or is_mlflow_path(path):
        body = mlflow.error(message, "UNAUTHENTICATED" if status == 401 else "PERMISSION_DENIED")
    else:
        kind = "Unauthorized" if status == 401 else "PermissionDenied"
        body = {"error": {"type": kind, "message": message}}
    await _send(send, status, orjson.dumps(body), b"application/json")


async def _send(send: Send, status: int, payload: bytes, content_type: bytes) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(payload)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="shipyard"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
