"""KServe's v1 (TF-Serving style) explain verb: ``POST /v1/models/{name}:explain``.

Request: ``{"instances": [...]}``, each instance a record ``{column: value}`` or a
list of values in signature column order. Response: ``{"predictions": [...],
"explanations": [...]}``, one explanation per instance, the same content as the
native and OIP explain routes.
"""

from __future__ import annotations

from typing import Any

from shipyard.errors import InvalidInput
from shipyard.serving.model import ServedModel


def decode(body: Any, model: ServedModel) -> list[list[Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        raise InvalidInput('the body must be an object with an "instances" list')
    instances = body["instances"]
    if instances and all(isinstance(i, list) for i in instances):
        return model.validator.rows_from_columns(model.validator.columns, instances)
    return model.validator.rows_from_records(instances)


def encode(predictions: list[Any], explanations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"predictions": predictions, "explanations": explanations}


def error(message: str) -> dict[str, Any]:
    return {"error": message}
