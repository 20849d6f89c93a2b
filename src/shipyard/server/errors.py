"""Shipyard errors to HTTP status codes: the one mapping every route uses."""

from __future__ import annotations

from shipyard.errors import Conflict, InvalidInput, NotFound, ShipyardError
from shipyard.serving.dataplane import DeploymentNotReady
from shipyard.serving.validation import RequestValidationError


class BodyTooLarge(InvalidInput):
    """The request body is over ``SHIPYARD_MAX_BODY_BYTES``."""


def http_status(error: ShipyardError) -> int:
    if isinstance(error, BodyTooLarge):
        return 413
    if isinstance(error, DeploymentNotReady):
        return 503
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, RequestValidationError):
        return 422
    if isinstance(error, InvalidInput):
        return 400
    return 500  # ModelFailed and anything unexpected
