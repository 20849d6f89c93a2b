"""MLflow's scoring protocol (``mlflow models serve``): ``POST /invocations``.

JSON bodies carry exactly one of ``dataframe_split``, ``dataframe_records``,
``instances`` or ``inputs`` (plus optional ``params``); ``text/csv`` bodies
are a CSV with a header. The answer is ``{"predictions": [...]}``; errors use
MLflow's ``{"error_code": ..., "message": ...}``. ``params.predict_fn =
"predict_proba"`` returns probabilities, as an MLflow model logged with
``pyfunc_predict_fn="predict_proba"`` would.
"""

from __future__ import annotations

import io
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.serving.model import PredictionOutput, ServedModel

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def decode_json(body: Any, model: ServedModel) -> tuple[list[list[Any]], dict[str, Any]]:
    if not isinstance(body, dict):
        raise InvalidInput(f"the body must be a JSON object with one of {list(FORMATS)}")
    present = [k for k in FORMATS if k in body]
    if len(present) != 1:
        raise InvalidInput(
            f"the body must have exactly one of {list(FORMATS)}, got {present or list(body)}"
        )
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise InvalidInput('"params" must be an object')
    key, value = present[0], body[present[0]]
    validator = model.validator
    if key == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise InvalidInput('"dataframe_split" needs "columns" and "data"')
        return validator.rows_from_columns(
            value.get("columns", validator.columns), value["data"]
        ), params
    if key == "dataframe_records":
        return validator.rows_from_records(value), params
    if isinstance(value, dict):  # {"inputs": {"col": [..], ...}} column form
        names = list(value)
        columns = [v if isinstance(v, list) else [v] for v in value.values()]
        return validator.rows_from_columns(
            names, [list(r) for r in zip(*columns, strict=False)]
        ), params
    if isinstance(value, list) and value and isinstance(value[0], list):
        return validator.rows_from_columns(validator.columns, value), params
    return validator.rows_from_records(value), params


def decode_csv(body: bytes, model: ServedModel) -> list[list[Any]]:
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(body))
    except (ValueError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"cannot parse the CSV body: {exc}") from exc
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return model.validator.rows_from_records(records)


def encode(output: PredictionOutput, params: dict[str, Any]) -> dict[str, Any]:
    predict_fn = params.get("predict_fn", "predict")
    if predict_fn == "predict_proba":
        if output.probabilities is None:
            raise InvalidInput("this model has no predict_proba")
        return {"predictions": output.probabilities}
    if predict_fn != "predict":
        raise InvalidInput(f"unknown predict_fn {predict_fn!r}; use predict or predict_proba")
    return {"predictions": output.predictions}


def error(message: str, code: str = "BAD_REQUEST") -> dict[str, Any]:
    return {"error_code": code, "message": message}
