"""Errors over HTTP: the one error→status mapping, the error bodies, and their docs.

Every error a FastAPI route answers - a ``ShipyardError`` from the domain, a
request FastAPI could not validate, an unknown path or method - goes through
``error_response``, so the body has one shape per protocol: ``{"error":
{"type", "message"}}`` for the control API, ``{"error": "..."}`` under
``/v2`` (Open Inference Protocol). ``error_responses`` documents those bodies
in the OpenAPI document for the statuses a route declares.
"""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError as FastAPIValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from shipyard.errors import Conflict, InvalidInput, NotFound, ShipyardError
from shipyard.server.mlflow_api import errors as mlflow_api
from shipyard.serving.dataplane import DeploymentNotReady, ModelFailed
from shipyard.serving.validation import RequestValidationError

logger = logging.getLogger(__name__)


class BodyTooLarge(InvalidInput):
    """The request body is over ``SHIPYARD_MAX_BODY_BYTES``."""


class InvalidRequest(InvalidInput):
    """A path, query, header or body value does not fit the route's declared schema."""


def http_status(error: ShipyardError) -> int:
    if isinstance(error, BodyTooLarge):
        return 413
    if isinstance(error, DeploymentNotReady):
        return 503
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, RequestValidationError | InvalidRequest):
        return 422
    if isinstance(error, InvalidInput):
        return 400
    return 500  # ModelFailed and anything unexpected


class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorBody(BaseModel):
    """What every control API route answers on an error."""

    error: ErrorDetail


class OipErrorBody(BaseModel):
    """The Open Inference Protocol's error body (routes under ``/v2``)."""

    error: str


def error_responses(
    *statuses: int, body: type[BaseModel] = ErrorBody
) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=`` for the error statuses it really answers, all with ``body``.

    Listing 422 here also replaces FastAPI's own ``HTTPValidationError`` entry,
    whose shape ``validation_error`` below no longer answers. A route with a JSON
    body also answers 400 when the body does not parse.
    """
    return {s: {"model": body, "description": HTTPStatus(s).phrase} for s in statuses}


def error_response(path: str, type_: str, message: str, status: int) -> JSONResponse:
    if mlflow_api.is_mlflow_path(path):
        return mlflow_api.mlflow_error(mlflow_api.status_code(status), message, status)
    if path == "/v2" or path.startswith("/v2/"):
        return JSONResponse({"error": message}, status_code=status)
    return JSONResponse({"error": {"type": type_, "message": message}}, status_code=status)


def internal_message(error: BaseException, request_id: str) -> str:
    """What a 5xx body says: never the error's own text (paths, SQL, a model's message).

    The full error goes to the server log under the same request id.
    """
    what = error.public if isinstance(error, ModelFailed) else "internal server error"
    return f"{what} (request id {request_id}; details are in the server log)"


def _request_id(request: Request) -> str:
    return request.headers.get("x-request-id", "")[:128] or uuid.uuid4().hex


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()))
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))


def _allowed_methods(app: FastAPI, request: Request) -> set[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return methods


def install_error_handlers(app: FastAPI) -> None:
    """Route every error FastAPI answers through ``error_response``."""

    @app.exception_handler(ShipyardError)
    async def shipyard_error(request: Request, exc: ShipyardError) -> JSONResponse:
        if mlflow_api.is_mlflow_path(request.url.path):
            known = mlflow_api.code_and_status(exc)
            if known is not None:
                return mlflow_api.mlflow_error(known[0], str(exc), known[1])
        status = http_status(exc)
        if status < 500:
            return error_response(request.url.path, type(exc).__name__, str(exc), status)
        request_id = _request_id(request)
        logger.error("request %s to %s failed: %s", request_id, request.url.path, exc)
        message = internal_message(exc, request_id)
        return error_response(request.url.path, "InternalError", message, status)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback after this answers; the body names none of it.
        request_id = _request_id(request)
        path = request.url.path
        logger.error("request %s to %s failed: %s", request_id, path, type(exc).__name__)
        message = internal_message(exc, request_id)
        return error_response(request.url.path, "InternalError", message, 500)

    @app.exception_handler(FastAPIValidationError)
    async def validation_error(request: Request, exc: FastAPIValidationError) -> JSONResponse:
        message = "; ".join(_describe(e) for e in exc.errors()[:10])
        return error_response(request.url.path, InvalidRequest.__name__, message, 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        response = error_response(
            request.url.path,
            HTTPStatus(exc.status_code).phrase.replace(" ", ""),
            str(exc.detail),
            exc.status_code,
        )
        if exc.status_code == 405:
            allowed = _allowed_methods(app, request)
            response.headers["Allow"] = ", ".join(sorted(allowed))
        elif exc.headers:
            response.headers.update(exc.headers)
        return response
