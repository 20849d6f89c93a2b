"""Open Inference Protocol v2 (KServe, Triton, MLServer) over REST.

A deployment is an OIP "model"; its registered version number is the OIP
version. Inputs are either one 2-D tensor ``[rows, columns]`` in signature
column order, or one tensor per signature column (named like the column,
shape ``[rows]`` or ``[rows, 1]``). ``data`` may be flat (row-major) or
nested. Outputs: ``predict`` and, for classifiers, ``predict_proba``.
"""

from __future__ import annotations

import math
from typing import Any

from shipyard import __version__
from shipyard.errors import InvalidInput
from shipyard.serving.model import PredictionOutput, ServedModel

DATATYPES = {
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
}
_NUMERIC = DATATYPES - {"BOOL", "BYTES"}
_SIGNATURE_TYPES = {
    "float64": "FP64",
    "int64": "INT64",
    "bool": "BOOL",
    "string": "BYTES",
    "category": "BYTES",
    "datetime": "BYTES",
}


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise InvalidInput("input data must be a list")
    if data and isinstance(data[0], list):
        flat: list[Any] = []
        stack = [data]
        while stack:  # iterative, row-major
            current = stack.pop()
            if current and isinstance(current[0], list):
                stack.extend(reversed(current))
            else:
                flat.extend(current)
        return flat
    return data


def _tensor(raw: Any, index: int) -> tuple[str, list[int], str, list[Any]]:
    if not isinstance(raw, dict):
        raise InvalidInput(f"inputs[{index}] must be an object with name, shape, datatype, data")
    name, shape, datatype, data = (raw.get(k) for k in ("name", "shape", "datatype", "data"))
    if not isinstance(name, str):
        raise InvalidInput(f"inputs[{index}].name must be a string")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise InvalidInput(f"input {name!r}: shape must be a list of non-negative integers")
    if datatype not in DATATYPES:
        raise InvalidInput(
            f"input {name!r}: unknown datatype {datatype!r}; use one of {sorted(DATATYPES)}"
        )
    values = _flatten(data)
    if len(values) != math.prod(shape):
        raise InvalidInput(
            f"input {name!r}: shape {shape} needs {math.prod(shape)} values, got {len(values)}"
        )
    if datatype in _NUMERIC and not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise InvalidInput(f"input {name!r}: datatype {datatype} needs numbers")
    if datatype == "BOOL" and not all(isinstance(v, bool) for v in values):
        raise InvalidInput(f"input {name!r}: datatype BOOL needs true/false values")
    if datatype == "BYTES" and not all(isinstance(v, str) for v in values):
        raise InvalidInput(f"input {name!r}: datatype BYTES needs strings")
    return name, shape, datatype, values


def decode(body: Any, model: ServedModel) -> tuple[list[list[Any]], list[str] | None]:
    """Rows for the model, and the output names asked for (None: all)."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise InvalidInput('the body must be an object with a non-empty "inputs" list')
    tensors = [_tensor(raw, i) for i, raw in enumerate(body["inputs"])]
    columns = model.validator.columns
    if len(tensors) == 1 and tensors[0][0] not in columns:
        name, shape, _, values = tensors[0]
        if len(shape) != 2 or shape[1] != len(columns):
            raise InvalidInput(
                f"input {name!r}: shape {shape} does not fit the model's "
                f"{len(columns)} columns; send [rows, {len(columns)}] or one "
                f"input per column named {columns[:3]}..."
            )
        width = shape[1]
        rows = [values[i : i + width] for i in range(0, len(values), width)]
        return model.validator.rows_from_columns(columns, rows), _outputs(body)
    by_name = {}
    for name, shape, _, values in tensors:
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise InvalidInput(
                f"input {name!r}: a per-column input has shape [rows] or [rows, 1], got {shape}"
            )
        by_name[name] = values
    lengths = {len(v) for v in by_name.values()}
    if len(lengths) != 1:
        raise InvalidInput(f"inputs have different row counts: {sorted(lengths)}")
    names = list(by_name)
    data = [list(row) for row in zip(*by_name.values(), strict=True)]
    return model.validator.rows_from_columns(names, data), _outputs(body)


def _outputs(body: dict[str, Any]) -> list[str] | None:
    requested = body.get("outputs")
    if requested is None:
        return None
    if not isinstance(requested, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested
    ):
        raise InvalidInput('"outputs" must be a list of objects with a "name"')
    names = [o["name"] for o in requested]
    unknown = [n for n in names if n not in ("predict", "predict_proba")]
    if unknown:
        raise InvalidInput(f"unknown output(s) {unknown}; this model has predict and predict_proba")
    return names


def _datatype(values: list[Any]) -> str:
    sample = values[0] if values else 0.0
    if isinstance(sample, bool):
        return "BOOL"
    if isinstance(sample, int):
        return "INT64"
    if isinstance(sample, float):
        return "FP64"
    return "BYTES"


def encode(
    output: PredictionOutput,
    model: ServedModel,
    deployment: str,
    request_id: str,
    wanted: list[str] | None,
) -> dict[str, Any]:
    outputs = []
    n = len(output.predictions)
    if wanted is None or "predict" in wanted:
        outputs.append(
            {
                "name": "predict",
                "shape": [n],
                "datatype": _datatype(output.predictions),
                "data": output.predictions,
            }
        )
    if (wanted is None or "predict_proba" in wanted) and output.probabilities is not None:
        width = len(output.probabilities[0]) if output.probabilities else 0
        outputs.append(
            {
                "name": "predict_proba",
                "shape": [n, width],
                "datatype": "FP64",
                "data": [p for row in output.probabilities for p in row],
            }
        )
    elif wanted is not None and "predict_proba" in wanted:
        raise InvalidInput(f"model {model.key} has no predict_proba output")
    return {
        "model_name": deployment,
        "model_version": str(model.version.version),
        "id": request_id,
        "parameters": {},
        "outputs": outputs,
    }


def server_metadata() -> dict[str, Any]:
    # "explain": POST /v2/models/{name}/explain takes an infer body (server/explain.py).
    return {"name": "shipyard", "version": __version__, "extensions": ["explain"]}


def encode_explanations(
    deployment: str,
    version: str,
    request_id: str,
    predictions: list[Any],
    explanations: list[dict[str, Any]],
) -> dict[str, Any]:
    """The explain extension's answer: an infer response whose ``predict`` output is the
    model's, plus the explanations (the same rows as every explain route)."""
    return {
        "model_name": deployment,
        "model_version": version,
        "id": request_id,
        "parameters": {},
        "outputs": [
            {
                "name": "predict",
                "shape": [len(predictions)],
                "datatype": _datatype(predictions),
                "data": predictions,
            }
        ],
        "explanations": explanations,
    }


def model_metadata(deployment: str, model: ServedModel) -> dict[str, Any]:
    inputs = [
        {"name": c.name, "datatype": _SIGNATURE_TYPES.get(c.dtype, "BYTES"), "shape": [-1, 1]}
        for c in model.version.signature.inputs
    ]
    kind = model.classes.dtype.kind if model.classes is not None else "f"
    predict_type = {"i": "INT64", "u": "INT64", "f": "FP64", "b": "BOOL"}.get(kind, "BYTES")
    outputs = [{"name": "predict", "datatype": predict_type, "shape": [-1]}]
    if model.has_proba:
        width = len(model.classes) if model.classes is not None else -1
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, width]})
    return {
        "name": deployment,
        "versions": [str(model.version.version)],
        "platform": f"shipyard-{model.version.flavor}",
        "inputs": inputs,
        "outputs": outputs,
    }


def error(message: str) -> dict[str, Any]:
    return {"error": message}
