"""Input/output signatures inferred from a sample, and the check of data against one.

A signature records, per input column: name, dtype, nullability, the
categorical levels seen and the numeric range seen. Serving validates
requests against it; the model card and ``models show`` print it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import SignatureError

MAX_CATEGORY_LEVELS = 100
_KINDS = {"b": "bool", "i": "int64", "u": "int64", "f": "float64", "M": "datetime"}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: str
    nullable: bool
    categories: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "nullable": self.nullable}
        if self.categories is not None:
            data["categories"] = list(self.categories)
        if self.minimum is not None:
            data["minimum"] = self.minimum
            data["maximum"] = self.maximum
        return data

    def example(self) -> Any:
        """A plausible value: the first category, the middle of the seen range, else a zero
        (a warm-up row for serving, the fallback background row for explanations)."""
        if self.categories:
            return self.categories[0]
        if self.dtype in ("float64", "int64"):
            if self.minimum is not None and self.maximum is not None:
                middle = (self.minimum + self.maximum) / 2
                return round(middle) if self.dtype == "int64" else middle
            return 0.0 if self.dtype == "float64" else 0
        if self.dtype == "bool":
            return False
        return ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        categories = data.get("categories")
        return cls(
            name=data["name"],
            dtype=data["dtype"],
            nullable=bool(data.get("nullable", True)),
            categories=tuple(categories) if categories is not None else None,
            minimum=data.get("minimum"),
            maximum=data.get("maximum"),
        )


@dataclass(frozen=True)
class OutputSpec:
    """What ``predict`` returns: its dtype and, for classifiers, the classes."""

    dtype: str
    task: str = "other"  # "classification" | "regression" | "other"
    classes: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"dtype": self.dtype, "task": self.task}
        if self.classes is not None:
            data["classes"] = list(self.classes)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutputSpec:
        classes = data.get("classes")
        return cls(
            dtype=data["dtype"],
            task=data.get("task", "other"),
            classes=tuple(classes) if classes is not None else None,
        )


@dataclass(frozen=True)
class Signature:
    inputs: tuple[ColumnSpec, ...]
    outputs: OutputSpec | None = None
    # "dataframe" when the sample had named columns, "ndarray" for a bare matrix.
    input_kind: str = "dataframe"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [column.name for column in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [column.to_dict() for column in self.inputs],
            "outputs": self.outputs.to_dict() if self.outputs else None,
            "input_kind": self.input_kind,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        outputs = data.get("outputs")
        return cls(
            inputs=tuple(ColumnSpec.from_dict(c) for c in data.get("inputs", [])),
            outputs=OutputSpec.from_dict(outputs) if outputs else None,
            input_kind=data.get("input_kind", "dataframe"),
        )

    def with_outputs(self, outputs: OutputSpec | None) -> Signature:
        return Signature(self.inputs, outputs, self.input_kind)

    def select_columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame's signature columns in signature order; names any missing one."""
        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            raise SignatureError(
                f"input is missing column(s) {missing}; the model expects {self.columns}"
            )
        if list(frame.columns) == self.columns:
            return frame
        return frame[self.columns]


def to_frame(data: Any, *, what: str = "sample input") -> tuple[pd.DataFrame, str]:
    """Turn a DataFrame, 2-D array, dict of columns or list of records into a frame."""
    if isinstance(data, pd.DataFrame):
        frame, kind = data, "dataframe"
    elif isinstance(data, pd.Series):
        frame, kind = data.to_frame(), "dataframe"
    elif isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise SignatureError(
                f"{what} must be 2-D (rows x columns); got an array of shape {data.shape}"
            )
        frame = pd.DataFrame(data, columns=[f"f{i}" for i in range(data.shape[1])])
        kind = "ndarray"
    elif isinstance(data, Mapping):
        try:
            frame = pd.DataFrame(dict(data))
        except ValueError as exc:
            raise SignatureError(f"{what} as a dict of columns is not rectangular: {exc}") from exc
        kind = "dataframe"
    elif (
        isinstance(data, Sequence)
        and not isinstance(data, str | bytes)
        and data
        and all(isinstance(row, Mapping) for row in data)
    ):
        frame, kind = pd.DataFrame(list(data)), "dataframe"
    else:
        raise SignatureError(
            f"{what} of type {type(data).__name__} cannot yield a signature; pass a pandas "
            "DataFrame, a 2-D numpy array, a dict of columns or a list of records"
        )
    if frame.shape[1] == 0:
        raise SignatureError(f"{what} has no columns")
    if frame.shape[0] == 0:
        raise SignatureError(f"{what} has no rows; a signature needs at least one example")
    if frame.columns.duplicated().any():
        duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise SignatureError(f"{what} has duplicate column names: {duplicated}")
    return frame, kind


def infer_signature(sample: Any) -> Signature:
    """Infer the input signature from a sample (names, dtypes, nulls, levels, ranges)."""
    return signature_of_frame(*to_frame(sample))


def signature_of_frame(frame: pd.DataFrame, kind: str = "dataframe") -> Signature:
    """The signature of a frame ``to_frame`` already produced (no second conversion)."""
    numeric = _numeric_specs(frame)
    return Signature(
        tuple(
            numeric.get(i) or _column_spec(str(name), frame[name])
            for i, name in enumerate(frame.columns)
        ),
        None,
        kind,
    )


def _numeric_specs(frame: pd.DataFrame) -> dict[int, ColumnSpec]:
    """All plain int/float columns at once: one matrix, vectorized min/max/null checks."""
    positions = [
        i
        for i, dtype in enumerate(frame.dtypes)
        if not isinstance(dtype, pd.CategoricalDtype) and dtype.kind in "iuf"
    ]
    if not positions:
        return {}
    matrix = frame.iloc[:, positions].to_numpy(dtype="float64", na_value=np.nan)
    nulls = np.isnan(matrix).any(axis=0)
    finite = np.where(np.isfinite(matrix), matrix, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        lows, highs = np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)
    specs = {}
    for j, i in enumerate(positions):
        kind = frame.dtypes.iloc[i].kind
        low, high = lows[j], highs[j]
        bounded = not np.isnan(low)
        specs[i] = ColumnSpec(
            str(frame.columns[i]),
            _KINDS[kind],
            bool(nulls[j]),
            minimum=float(low) if bounded else None,
            maximum=float(high) if bounded else None,
        )
    return specs


def _column_spec(name: str, values: pd.Series) -> ColumnSpec:
    nullable = bool(values.isna().any())
    if isinstance(values.dtype, pd.CategoricalDtype):
        levels = tuple(_plain(v) for v in values.dtype.categories)
        odd = [v for v in levels if not isinstance(v, str | int | float | bool)]
        if odd:  # a signature is stored as JSON and compared with JSON request values
            raise SignatureError(
                f"column {name!r} of the sample input cannot be described in a signature "
                f"(category levels of type {type(odd[0]).__name__}); convert it, e.g. "
                f"df[{name!r}].astype(str)"
            )
        return ColumnSpec(name, "category", nullable, categories=levels)
    kind = values.dtype.kind
    if kind in ("i", "u", "f"):
        finite = values.to_numpy(dtype="float64", na_value=np.nan)
        finite = finite[np.isfinite(finite)]
        low = float(finite.min()) if finite.size else None
        high = float(finite.max()) if finite.size else None
        return ColumnSpec(name, _KINDS[kind], nullable, minimum=low, maximum=high)
    if kind in ("b", "M"):
        return ColumnSpec(name, _KINDS[kind], nullable)
    if kind in ("O", "U", "S") or pd.api.types.is_string_dtype(values.dtype):
        present = values.dropna()
        types = {type(v) for v in present}
        if types - {str}:
            found = sorted(t.__name__ for t in types)
            raise SignatureError(
                f"column {name!r} mixes value types {found}; a column must hold one type "
                "(convert it, e.g. df[col].astype(str))"
            )
        observed = sorted(present.unique().tolist())
        categories = tuple(observed) if len(observed) <= MAX_CATEGORY_LEVELS else None
        return ColumnSpec(name, "string", nullable, categories=categories)
    raise SignatureError(
        f"column {name!r} has dtype {values.dtype}, which a signature cannot describe"
    )


def infer_output_spec(predictions: Any, classes: Sequence[Any] | None) -> OutputSpec:
    """Describe a model's predictions; ``classes`` marks a classifier."""
    array = np.asarray(predictions)
    dtype = _KINDS.get(
        array.dtype.kind, "string" if array.dtype.kind in "OUS" else str(array.dtype)
    )
    if classes is not None:
        return OutputSpec(dtype, "classification", tuple(_plain(c) for c in classes))
    task = "regression" if array.dtype.kind == "f" else "other"
    return OutputSpec(dtype, task)


def _plain(value: Any) -> Any:
    """numpy scalars to Python scalars so that signatures serialize to JSON."""
    return value.item() if isinstance(value, np.generic) else value
