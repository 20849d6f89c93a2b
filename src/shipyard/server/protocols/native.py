"""Shipyard's own predict protocol: ``POST /v1/deployments/{name}/predict``.

Request: ``{"inputs": [{...record...}, ...]}`` or
``{"columns": [...], "data": [[...], ...]}``. Response: predictions (and
probabilities with their class order, for classifiers), the model name and
version that answered, and the request id.
"""

from __future__ import annotations

from typing import Any

from shipyard.errors import InvalidInput
from shipyard.serving.model import PredictionOutput, ServedModel


def decode(body: Any, model: ServedModel) -> list[list[Any]]:
    if not isinstance(body, dict):
        raise InvalidInput(
            'the body must be a JSON object with "inputs" (a list of records) '
            'or "columns" and "data"'
        )
    if "inputs" in body:
        return model.validator.rows_from_records(body["inputs"])
    if "columns" in body and "data" in body:
        return model.validator.rows_from_columns(body["columns"], body["data"])
    raise InvalidInput('the body needs "inputs" (a list of records) or "columns" and "data"')


def encode(
    output: PredictionOutput, model: ServedModel, deployment: str, request_id: str, arm: str
) -> dict[str, Any]:
    response: dict[str, Any] = {"predictions": output.predictions}
    if output.probabilities is not None:
        response["probabilities"] = output.probabilities
        response["classes"] = model.classes.tolist() if model.classes is not None else None
    response.update(
        {
            "deployment": deployment,
            "model": model.version.name,
            "version": model.version.version,
            "arm": arm,
            "request_id": request_id,
        }
    )
    return response


def error(message: str, request_id: str) -> dict[str, Any]:
    return {"error": {"message": message, "request_id": request_id}}
