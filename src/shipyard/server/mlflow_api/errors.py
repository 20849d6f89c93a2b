"""MLflow's error shape for the tracking API: ``{"error_code": ..., "message": ...}``.

The stock client retries 5xx answers for minutes, so every mistake of the
caller must come back as a 4xx with the code the client understands
(``mlflow/exceptions.py``): a missing thing is 404 RESOURCE_DOES_NOT_EXIST, a
taken name 400 RESOURCE_ALREADY_EXISTS, anything else wrong 400
INVALID_PARAMETER_VALUE, an unknown route 404 ENDPOINT_NOT_FOUND.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from shipyard.errors import Conflict, InvalidInput, NotFound, ShipyardError

#: Every path the MLflow adapter answers (and whose errors take its shape).
PREFIXES = ("/api/2.0/mlflow", "/api/3.0/mlflow", "/ajax-api/")


def is_mlflow_path(path: str) -> bool:
    return path.startswith(PREFIXES)


class PermissionDenied(ShipyardError):
    """A model or protected alias named in the body that the caller's token may not touch."""


def code_and_status(error: ShipyardError) -> tuple[str, int] | None:
    """MLflow's error code and status for a caller's mistake; None for a server fault."""
    if isinstance(error, PermissionDenied):
        return "PERMISSION_DENIED", 403
    if isinstance(error, NotFound):
        return "RESOURCE_DOES_NOT_EXIST", 404
    if isinstance(error, Conflict):
        return "RESOURCE_ALREADY_EXISTS", 400
    if isinstance(error, InvalidInput):
        return "INVALID_PARAMETER_VALUE", 400
    return None


def status_code(status: int) -> str:
    """The error code of a status the HTTP layer decided (auth, routing, validation)."""
    return {
        400: "INVALID_PARAMETER_VALUE",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "ENDPOINT_NOT_FOUND",
        405: "ENDPOINT_NOT_FOUND",
        413: "INVALID_PARAMETER_VALUE",
        422: "INVALID_PARAMETER_VALUE",
    }.get(status, "INTERNAL_ERROR")


def mlflow_error(code: str, message: str, status: int) -> JSONResponse:
    # Validation problems are 400 in MLflow (there is no 422 in its client's table).
    return JSONResponse(
        {"error_code": code, "message": message}, status_code=400 if status == 422 else status
    )
