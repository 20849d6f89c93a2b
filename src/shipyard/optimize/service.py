"""``optimize``: a scikit-learn version becomes a new ONNX version of the same model.

Sample, convert, gate on parity, quantize where it applies, time both, and
only then register: a conversion that fails the gate leaves the registry as
it was. The new version keeps its source's signature (so the server
validates it the same way), its reference data (so drift is measured the
same way), a ``shipyard.derived_from`` link and the reports as tags.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.entities import ModelVersion
from shipyard.errors import InvalidInput, UnsupportedModel
from shipyard.flavors.base import Predictor
from shipyard.flavors.onnx import OnnxPredictor
from shipyard.monitoring.service import REFERENCE_SAMPLE_TAG, REFERENCE_TAG
from shipyard.optimize.convert import ConversionFailed, Converted, MissingConverter, to_onnx
from shipyard.optimize.latency import LatencyReport, measure_latency
from shipyard.optimize.parity import ParityGateFailed, ParityReport, check_parity
from shipyard.optimize.quantize import quantizable, quantize_dynamic_int8
from shipyard.optimize.sample import ParityRows, load_sample, parity_rows
from shipyard.registry import service as registry
from shipyard.registry.uri import parse_model_uri
from shipyard.store import Store

logger = logging.getLogger(__name__)

OPTIMIZE_TAG = registry.OPTIMIZE_TAG
TARGETS = ("onnx",)
Phase = Callable[[str], None]


@dataclass(frozen=True)
class OptimizeResult:
    """The registered version and the evidence it was registered on."""

    version: ModelVersion
    source: str
    input_dtype: str
    parity: ParityReport
    latency: LatencyReport
    quantization: dict[str, Any] = field(default_factory=dict)
    fallback_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version.uri,
            "flavor": self.version.flavor,
            "derived_from": self.source,
            "input_dtype": self.input_dtype,
            "fallback_reason": self.fallback_reason,
            "parity": self.parity.to_dict(),
            "latency": self.latency.to_dict(),
            "quantization": self.quantization,
        }


def optimize_version(
    store: Store,
    uri: str,
    *,
    sample: str | Path | None = None,
    max_diff: float = 1e-5,
    to: str = "onnx",
    actor: str,
    progress: Phase | None = None,
) -> OptimizeResult:
    """Convert the version at ``uri`` and register it as the next version of its model."""
    if to not in TARGETS:
        raise InvalidInput(f"cannot optimize to {to!r}; supported: {', '.join(TARGETS)}")
    if not max_diff >= 0:
        raise InvalidInput(f"max_diff must be >= 0, got {max_diff}")
    phase = progress or (lambda _: None)
    source = registry.resolve(store, parse_model_uri(uri))
    loaded = registry.load_version(store, source)
    estimator = loaded.predictor.raw
    if source.flavor == "onnx" or not _is_sklearn(estimator):
        raise UnsupportedModel(
            f"{source.uri} is a {source.flavor} version; optimize converts scikit-learn models"
        )
    phase("sample")
    frame = load_sample(store, source, sample)
    rows = parity_rows(frame, source, accepts_nan=_accepts_nan(loaded.predictor, frame))
    phase("convert")
    classes = loaded.predictor.classes
    converted, candidate, parity = _first_passing(
        estimator, source, loaded.predictor, rows, max_diff, phase
    )
    phase("quantize")
    graph, quantization = _quantize(estimator, source, converted, loaded.predictor, rows, max_diff)
    served = candidate if graph is converted.onnx_bytes else OnnxPredictor(graph, classes)
    phase("latency")
    plain = rows.frame.iloc[: rows.sample_rows + rows.drawn_rows]
    latency = measure_latency(loaded.predictor, served, plain)
    phase("register")
    result = OptimizeResult(
        version=source,  # replaced below by the registered version
        source=source.uri,
        input_dtype="int8 weights"
        if quantization["status"] == "applied"
        else converted.input_dtype,
        parity=parity,
        latency=latency,
        quantization=quantization,
        fallback_reason=converted.fallback_reason,
    )
    version = _register(store, source, graph, classes, result, actor)
    logger.info("optimized %s into %s: %s", source.uri, version.uri, parity.summary())
    return OptimizeResult(**{**result.__dict__, "version": version})


def _first_passing(
    estimator: Any,
    source: ModelVersion,
    predictor: Predictor,
    rows: ParityRows,
    max_diff: float,
    phase: Phase,
) -> tuple[Converted, OnnxPredictor, ParityReport]:
    """The float64 graph if it converts and passes the gate, else the float32 one.

    Which one matches depends on the estimator, not only on the converter:
    HistGradientBoosting compares float64 values with float64 thresholds, while
    scikit-learn's classic trees cast inputs to float32 before comparing.
    """
    failures: list[str] = []
    refused: ParityReport | None = None
    conversion_error: ConversionFailed | None = None
    for dtype in ("float64", "float32"):
        try:
            converted = to_onnx(estimator, source.signature, (dtype,))
        except MissingConverter:
            raise  # no input type helps
        except ConversionFailed as exc:
            failures.append(f"{dtype} inputs do not convert: {exc}")
            conversion_error = exc
            continue
        phase("parity")
        candidate = OnnxPredictor(converted.onnx_bytes, predictor.classes)
        report = check_parity(predictor, candidate, rows, max_diff)
        if report.passed:
            reason = "; ".join(failures)
            return replace(converted, fallback_reason=reason), candidate, report
        failures.append(f"{dtype} graph fails the gate ({report.summary()})")
        if refused is None or report.max_diff < refused.max_diff:
            refused = report
    if refused is None:
        assert conversion_error is not None
        raise conversion_error
    raise ParityGateFailed(f"the ONNX conversion of {source.uri} (float64 and float32)", refused)


def _is_sklearn(estimator: Any) -> bool:
    return type(estimator).__module__.startswith("sklearn.")


def _accepts_nan(predictor: Predictor, frame: pd.DataFrame) -> bool:
    """Whether the source model answers rows with a missing numeric value (HGB does)."""
    numeric = [c for c in frame.columns if frame[c].dtype.kind in "fiub"]
    if not numeric:
        return False
    probe = frame.iloc[:1].astype({numeric[0]: "float64"})
    probe.iloc[0, probe.columns.get_loc(numeric[0])] = np.nan
    try:
        predictor.predict(probe)
    except Exception:  # scikit-learn raises ValueError("Input contains NaN") and others
        return False
    return True


def _quantize(
    estimator: Any,
    source: ModelVersion,
    converted: Converted,
    predictor: Predictor,
    rows: ParityRows,
    max_diff: float,
) -> tuple[bytes, dict[str, Any]]:
    """(the graph to register, what quantization did)."""
    float32 = converted
    if quantizable(converted.ops) and converted.input_dtype != "float32":
        # int8 weights replace float32 ones: quantize the float32 graph of the same model
        float32 = to_onnx(estimator, source.signature, ("float32",))
    if not quantizable(float32.ops):
        return converted.onnx_bytes, {
            "status": "not applicable",
            "reason": f"no MatMul/Gemm in the graph (ops: {', '.join(float32.ops)})",
        }
    try:
        quantized = quantize_dynamic_int8(float32.onnx_bytes)
    except Exception as exc:  # onnxruntime's quantizer raises plain exceptions
        return converted.onnx_bytes, {"status": "failed", "reason": str(exc)[:300]}
    report = check_parity(predictor, OnnxPredictor(quantized, predictor.classes), rows, max_diff)
    if not report.passed:
        return converted.onnx_bytes, {"status": "failed gate", "parity": report.to_dict()}
    return quantized, {"status": "applied", "parity": report.to_dict()}


def _register(
    store: Store,
    source: ModelVersion,
    graph: bytes,
    classes: tuple[Any, ...] | None,
    result: OptimizeResult,
    actor: str,
) -> ModelVersion:
    options = {"classes": list(classes)} if classes is not None else {}
    packaged = registry.package_model(
        store, graph, flavor="onnx", flavor_options=options, signature=source.signature
    )
    report = result.to_dict()
    del report["version"], report["flavor"]
    tags = {
        registry.DERIVED_FROM_TAG: source.uri,
        OPTIMIZE_TAG: json.dumps(report, sort_keys=True),
        **{k: source.tags[k] for k in (REFERENCE_TAG, REFERENCE_SAMPLE_TAG) if k in source.tags},
    }
    derived = {
        "source": source.uri,
        "input dtype": result.input_dtype,
        "parity": result.parity.summary(),
        "latency (1 thread)": result.latency.summary(),
        "quantization": result.quantization["status"],
    }
    return registry.register_packaged(
        store,
        packaged,
        name=source.name,
        description=f"ONNX conversion of {source.uri} (shipyard optimize)",
        tags=tags,
        derived=derived,
        actor=actor,
    )
