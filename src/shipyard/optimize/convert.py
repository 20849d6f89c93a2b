"""scikit-learn to ONNX with skl2onnx: input types from the signature, zipmap off.

Inputs are float64 (``DoubleTensorType``) when the converters of every step
can produce a graph onnxruntime runs; otherwise float32, and the parity gate
decides whether the cast is harmless. Float64 matters for trees: a threshold
``t`` and a value ``x > t`` can round to the same float32, which sends the row
down the other branch (ai.onnx.ml opset 3 keeps double thresholds). A
pipeline with a ``ColumnTransformer`` gets one input per column (strings
stay strings); anything else takes one matrix.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shipyard.errors import MissingDependency, UnsupportedModel
from shipyard.optimize.missing import add_missing_routing
from shipyard.signature import Signature

logger = logging.getLogger(__name__)

#: ai.onnx.ml 3 stores tree thresholds as doubles; ai.onnx 18 is what onnxruntime >= 1.17 runs.
TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}
INPUT_NAME = "X"


class ConversionFailed(UnsupportedModel):
    """skl2onnx cannot convert the model; the message names the estimator and where it is."""


class MissingConverter(ConversionFailed):
    """A part of the model has no skl2onnx converter (or no ONNX input can feed it)."""


@dataclass(frozen=True)
class Converted:
    """An ONNX graph and how it was made."""

    onnx_bytes: bytes
    input_dtype: str  # "float64" or "float32"
    inputs: str  # "matrix" or "columns"
    ops: tuple[str, ...]
    fallback_reason: str = ""


def _skl2onnx() -> Any:
    try:
        import skl2onnx
    except ImportError as exc:
        raise MissingDependency("skl2onnx", "onnx") from exc
    return skl2onnx


def components(estimator: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every estimator inside ``estimator`` with a readable path to it (itself first)."""
    here = path or "the model"
    yield here, estimator
    steps = getattr(estimator, "steps", None)
    if steps is not None:
        for name, step in steps:
            yield from components(step, f"{here} > step {name!r}")
    transformers = getattr(estimator, "transformers_", None) or getattr(
        estimator, "transformer_list", None
    )
    for item in transformers or []:
        name, part = item[0], item[1]
        if not isinstance(part, str):  # "drop" / "passthrough"
            yield from components(part, f"{here} > transformer {name!r}")


def _unsupported(estimator: Any) -> tuple[str, str] | None:
    """(path, class name) of the first component skl2onnx has no converter for."""
    from skl2onnx._supported_operators import sklearn_operator_name_map

    known = set(sklearn_operator_name_map)
    for path, part in components(estimator):
        if type(part) not in known and not hasattr(part, "steps"):
            if type(part).__name__ in ("Pipeline", "ColumnTransformer", "FeatureUnion"):
                continue
            return path, f"{type(part).__module__}.{type(part).__qualname__}"
    return None


def _by_columns(estimator: Any) -> bool:
    return any(type(p).__name__ == "ColumnTransformer" for _, p in components(estimator))


def _initial_types(signature: Signature, by_columns: bool, dtype: str) -> list[Any]:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    numeric = DoubleTensorType if dtype == "float64" else FloatTensorType
    if not by_columns:
        return [(INPUT_NAME, numeric([None, len(signature.inputs)]))]
    return [
        (c.name, StringTensorType([None, 1]) if c.dtype == "string" else numeric([None, 1]))
        for c in signature.inputs
    ]


def _convert(estimator: Any, signature: Signature, by_columns: bool, dtype: str) -> bytes:
    from sklearn.base import is_classifier

    skl2onnx = _skl2onnx()
    graph = skl2onnx.to_onnx(
        estimator,
        initial_types=_initial_types(signature, by_columns, dtype),
        # probabilities as one tensor, not a list of {class: p} dicts (slower to build)
        options={"zipmap": False} if is_classifier(estimator) else None,
        target_opset=TARGET_OPSET,
    )
    data = add_missing_routing(bytes(graph.SerializeToString()), estimator)
    import onnxruntime

    onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])  # type-checks it
    return data


def to_onnx(
    estimator: Any, signature: Signature, dtypes: tuple[str, ...] = ("float64", "float32")
) -> Converted:
    """Convert with the first input dtype that works; ``ConversionFailed`` names the culprit."""
    _skl2onnx()
    missing = _unsupported(estimator)
    if missing is not None:
        where, kind = missing
        raise MissingConverter(
            f"skl2onnx has no converter for {kind} ({where}); register one with "
            "skl2onnx.update_registered_converter or keep serving the scikit-learn version"
        )
    by_columns = _by_columns(estimator)
    if not by_columns and any(c.dtype == "string" for c in signature.inputs):
        raise MissingConverter(
            f"{type(estimator).__name__} takes text columns without a ColumnTransformer; "
            "ONNX needs one numeric matrix or one input per column"
        )
    reasons: list[str] = []
    for dtype in dtypes:
        try:
            data = _convert(estimator, signature, by_columns, dtype)
            break
        except Exception as exc:  # skl2onnx / onnxruntime raise many types for these cases
            reasons.append(f"{dtype} inputs: {str(exc).splitlines()[0][:200]}")
            logger.info("conversion with %s inputs failed: %s", dtype, exc)
    else:
        raise ConversionFailed(
            f"skl2onnx could not convert {type(estimator).__name__}: {'; '.join(reasons)}"
        )
    reason = reasons[0] if reasons else ""
    return Converted(
        data, dtype, "columns" if by_columns else "matrix", graph_ops(data), fallback_reason=reason
    )


def graph_ops(data: bytes) -> tuple[str, ...]:
    """The distinct operator types of a graph, sorted."""
    import onnx

    return tuple(sorted({node.op_type for node in onnx.load_from_string(data).graph.node}))
