"""ONNX models, run with onnxruntime (``pip install 'shipyard[onnx]'``).

Accepts an ``onnx.ModelProto``, the serialized bytes of one, or a path to an
``.onnx`` file. Inputs are fed from the frame either as one matrix (a single
input of shape ``[N, k]``) or one column per named input. The first output is
the prediction; a second output holding per-class scores (a tensor, or the
list of dicts that skl2onnx's ZipMap produces) backs ``predict_proba``.

A session runs on one intra-op and one inter-op thread: a serving worker is
one process per core, and onnxruntime's own pools would fight the other
workers for the cores (single-row tree models gain nothing from them). A
single numeric input of width ``k`` also takes the server's float matrix fast
path (``predict_matrix``) without building a DataFrame. ``classes`` in the
flavor options (``shipyard optimize`` records its source's) name the
probability columns of graphs that do not carry class labels themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput, MissingDependency, SignatureError
from shipyard.flavors.base import Flavor, LoadContext, Predictor
from shipyard.signature import ColumnSpec, OutputSpec, Signature, infer_output_spec
from shipyard.store.artifacts import Tree

MODEL_FILE = "model.onnx"
_NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(string)": np.object_,
    "tensor(bool)": np.bool_,
}
_CLASS_ATTRIBUTES = ("classlabels_int64s", "classlabels_ints", "classlabels_strings")


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise MissingDependency("onnxruntime", "onnx") from exc
    return onnxruntime


def _model_bytes(model: Any) -> bytes:
    if isinstance(model, bytes | bytearray):
        return bytes(model)
    if isinstance(model, str | Path):
        return Path(model).read_bytes()
    return bytes(model.SerializeToString())


class OnnxPredictor(Predictor):
    def __init__(self, data: bytes, classes: Sequence[Any] | None = None) -> None:
        ort = _onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise InvalidInput(
                f"onnxruntime cannot load this model (is it a valid ONNX file?): {exc}"
            ) from exc
        self.inputs = self.session.get_inputs()
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.classes = tuple(classes) if classes is not None else _classes_from_graph(data)
        spec = self.inputs[0]
        width = spec.shape[1] if len(spec.shape) == 2 else None
        #: The one matrix input's width and dtype, when the fast path applies.
        self._matrix: tuple[int, Any] | None = (
            (width, _NUMPY_TYPES[spec.type])
            if len(self.inputs) == 1
            and isinstance(width, int)
            and spec.type in ("tensor(float)", "tensor(double)")
            else None
        )

    def _feed(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        if len(self.inputs) == 1:
            spec = self.inputs[0]
            dtype = _NUMPY_TYPES.get(spec.type, np.float32)
            return {spec.name: frame.to_numpy(dtype=dtype)}
        feed = {}
        for spec in self.inputs:
            if spec.name not in frame.columns:
                raise InvalidInput(f"ONNX input {spec.name!r} has no column of that name")
            dtype = _NUMPY_TYPES.get(spec.type, np.float32)
            feed[spec.name] = frame[spec.name].to_numpy(dtype=dtype).reshape(-1, 1)
        return feed

    def _run(self, frame: pd.DataFrame) -> list[Any]:
        return list(self.session.run(self.outputs, self._feed(frame)))

    def predict(self, frame: pd.DataFrame) -> Any:
        result = np.asarray(self._run(frame)[0])
        return result.reshape(-1) if result.ndim == 2 and result.shape[1] == 1 else result

    @property
    def supports_proba(self) -> bool:
        return len(self.outputs) >= 2

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.supports_proba:
            raise NotImplementedError("this ONNX model has no probability output")
        return self._scores(self._run(frame)[1])

    def _scores(self, scores: Any) -> np.ndarray:
        if isinstance(scores, list):  # ZipMap: one {class: probability} dict per row
            keys = list(self.classes) if self.classes else list(scores[0].keys())
            return np.array([[row[k] for k in keys] for row in scores], dtype=np.float64)
        return np.asarray(scores, dtype=np.float64)

    @property
    def raw(self) -> Any:
        return self.session

    def accepts_matrix(self, columns: Sequence[str]) -> bool:
        return self._matrix is not None and self._matrix[0] == len(columns)

    def _run_matrix(self, matrix: np.ndarray) -> list[Any]:
        assert self._matrix is not None
        feed = {self.inputs[0].name: np.ascontiguousarray(matrix, dtype=self._matrix[1])}
        return list(self.session.run(self.outputs, feed))

    def predict_matrix(self, matrix: np.ndarray) -> Any:
        result = np.asarray(self._run_matrix(matrix)[0])
        return result.reshape(-1) if result.ndim == 2 and result.shape[1] == 1 else result

    def predict_proba_matrix(self, matrix: np.ndarray) -> np.ndarray:
        if not self.supports_proba:
            raise NotImplementedError("this ONNX model has no probability output")
        return self._scores(self._run_matrix(matrix)[1])


def _classes_from_graph(data: bytes) -> tuple[Any, ...] | None:
    try:
        import onnx
    except ImportError:
        return None
    model = onnx.load_from_string(data)
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.name in _CLASS_ATTRIBUTES:
                values = onnx.helper.get_attribute_value(attribute)
                return tuple(v.decode() if isinstance(v, bytes) else int(v) for v in values)
    return None


class OnnxFlavor(Flavor):
    name = "onnx"
    packages = ("onnxruntime", "onnx", "numpy")
    priority = 20

    def can_save(self, model: Any) -> bool:
        if type(model).__name__ == "ModelProto" and type(model).__module__.startswith("onnx"):
            return True
        if isinstance(model, bytes | bytearray):
            return True  # serialized ModelProto; onnxruntime checks it when describing it
        return (
            isinstance(model, str | Path) and str(model).endswith(".onnx") and Path(model).is_file()
        )

    def save(self, model: Any, folder: Path, options: dict[str, Any]) -> dict[str, Any]:
        (folder / MODEL_FILE).write_bytes(_model_bytes(model))
        classes = options.get("classes")
        return {"classes": list(classes)} if classes is not None else {}

    def load(self, tree: Tree, options: dict[str, Any], context: LoadContext) -> Predictor:
        return OnnxPredictor(tree.read_bytes(MODEL_FILE), options.get("classes"))

    def wrap(self, model: Any, signature: Signature) -> Predictor:
        return OnnxPredictor(_model_bytes(model))

    def describe_outputs(
        self,
        model: Any,
        saved: Path,
        options: dict[str, Any],
        frame: pd.DataFrame,
        signature: Signature,
    ) -> OutputSpec:
        predictor = OnnxPredictor((saved / MODEL_FILE).read_bytes())
        if len(predictor.inputs) == 1:
            shape = predictor.inputs[0].shape
            width = shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None
            if width is not None and width != frame.shape[1]:
                raise SignatureError(
                    f"the ONNX model's input {predictor.inputs[0].name!r} takes {width} "
                    f"columns but sample_input has {frame.shape[1]}: {list(frame.columns)}"
                )
        return infer_output_spec(predictor.predict(frame), predictor.classes)

    def signature_from_model(self, model: Any) -> Signature | None:
        predictor = OnnxPredictor(_model_bytes(model))
        columns = []
        if len(predictor.inputs) == 1:
            shape = predictor.inputs[0].shape
            width = shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None
            if width is None:
                return None
            dtype = (
                "float64"
                if "float" in predictor.inputs[0].type or "double" in predictor.inputs[0].type
                else "int64"
            )
            columns = [ColumnSpec(f"f{i}", dtype, False) for i in range(width)]
            return Signature(tuple(columns), None, "ndarray")
        for spec in predictor.inputs:
            dtype = "string" if "string" in spec.type else "float64"
            columns.append(ColumnSpec(spec.name, dtype, False))
        return Signature(tuple(columns), None, "dataframe")
