"""Dynamic int8 quantization, only where onnxruntime's quantizer has something to do.

onnxruntime quantizes ai.onnx operators (MatMul, Gemm, ...), never the
ai.onnx.ml ones skl2onnx emits for trees and linear models
(TreeEnsembleClassifier, LinearClassifier, Scaler): on those graphs it
raises. So a graph without MatMul/Gemm is reported "not applicable"; an MLP
graph is quantized, and the quantized graph must pass the same parity gate.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from shipyard.errors import MissingDependency

QUANTIZABLE_OPS = frozenset({"MatMul", "Gemm"})


def quantizable(ops: tuple[str, ...]) -> bool:
    return bool(QUANTIZABLE_OPS & set(ops))


def quantize_dynamic_int8(onnx_bytes: bytes) -> bytes:
    """The graph with int8 weights for its MatMul/Gemm nodes (activations quantized per call)."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise MissingDependency("onnxruntime", "onnx") from exc
    with tempfile.TemporaryDirectory(prefix="shipyard-quantize-") as folder:
        source, target = Path(folder) / "float.onnx", Path(folder) / "int8.onnx"
        source.write_bytes(onnx_bytes)
        quantize_dynamic(source, target, weight_type=QuantType.QInt8)
        return target.read_bytes()
