"""Whole chunks of rows (Arrow tables) checked against a signature, column at a time.

Batch scoring reads 100,000 rows at a time; checking them one value at a time the
way ``RowValidator`` checks a request would cost more than the model. Here each
column is cast once with Arrow's kernels, and only a column whose cast fails is
looked at value by value to say which rows are wrong. A bad row does not fail
the chunk: it is set aside with its row, column and reason, and the good rows go
to the model. The rules are the request validator's: the same dtypes, nulls,
categories and dataset expectations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import InvalidInput
from shipyard.signature import ColumnSpec, Signature

#: (position in the chunk, column or None, reason)
Reject = tuple[int, str | None, str]

_TRUE = ("true", "1", "yes", "t", "y")
_FALSE = ("false", "0", "no", "f", "n")


@dataclass
class CheckedChunk:
    """The valid rows ready for the model, and what was set aside."""

    #: Positions (in the chunk) of the rows that passed, ascending.
    positions: np.ndarray
    #: The passing rows: a float matrix when every input is float64, else a DataFrame.
    inputs: np.ndarray | pd.DataFrame
    rejects: list[Reject]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"


class FrameValidator:
    """Compiled once per model version; ``check`` runs once per chunk."""

    def __init__(self, signature: Signature, expectations: dict[str, Any] | None = None) -> None:
        self.signature = signature
        self.columns = signature.columns
        self.specs = list(signature.inputs)
        self.rules: dict[str, dict[str, Any]] = (expectations or {}).get("columns", {})
        self.all_float = all(spec.dtype == "float64" for spec in self.specs)

    def missing_columns(self, names: Sequence[str]) -> list[str]:
        present = set(names)
        return [c for c in self.columns if c not in present]

    def check(self, table: pa.Table) -> CheckedChunk:
        missing = self.missing_columns(table.column_names)
        if missing:
            raise InvalidInput(
                f"the input has no column(s) {missing[:6]}; the model expects {self.columns}"
            )
        n = table.num_rows
        bad = np.zeros(n, dtype=bool)
        rejects: list[Reject] = []
        values: dict[str, np.ndarray] = {}
        for spec in self.specs:
            array, problems = self._column(spec, table.column(spec.name))
            values[spec.name] = array
            for position, reason in problems:
                rejects.append((position, spec.name, reason))
                bad[position] = True
        positions = np.flatnonzero(~bad)
        rejects.sort(key=lambda r: r[0])
        if self.all_float:
            if len(positions) == n:
                matrix = np.column_stack([values[c] for c in self.columns])
            else:
                matrix = np.column_stack([values[c][positions] for c in self.columns])
            return CheckedChunk(positions, np.ascontiguousarray(matrix), rejects)
        frame = pd.DataFrame(
            {c: values[c] if len(positions) == n else values[c][positions] for c in self.columns}
        )
        for spec in self.specs:
            if spec.dtype == "int64" and not frame[spec.name].isna().any():
                frame[spec.name] = frame[spec.name].astype("int64")
        return CheckedChunk(positions, frame, rejects)

    # -- one column -------------------------------------------------------------------
    def _column(
        self, spec: ColumnSpec, column: pa.ChunkedArray
    ) -> tuple[np.ndarray, list[tuple[int, str]]]:
        if spec.dtype in ("float64", "int64"):
            array, problems = _numeric(spec.name, column, integer=spec.dtype == "int64")
        elif spec.dtype == "bool":
            array, problems = _boolean(column)
        else:
            array, problems = _text(spec.name, column, spec.categories)
        rule = self.rules.get(spec.name, {})
        nullable = spec.nullable and bool(rule.get("nullable", True))
        null = pd.isna(array) if array.dtype == object else _float_null(array)
        flagged = {p for p, _ in problems}
        if not nullable and null.any():
            reason = (
                "is null/NaN but the column is not nullable"
                if not spec.nullable
                else "is null; the expectations forbid it"
            )
            problems += [(int(p), reason) for p in np.flatnonzero(null) if p not in flagged]
        problems += _expected(array, null, rule)
        return array, problems


def _float_null(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind == "f":
        return np.isnan(array)
    return np.zeros(len(array), dtype=bool)


def _numeric(
    name: str, column: pa.ChunkedArray, *, integer: bool
) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Float64 values (NaN for nulls), and the rows that are not numbers (or integers)."""
    kind = column.type
    problems: list[tuple[int, str]] = []
    if pa.types.is_boolean(kind):
        raise InvalidInput(f"column {name!r} holds booleans where the model expects numbers")
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind):
        floats = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    else:
        try:
            floats = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raw = column.to_numpy(zero_copy_only=False)
            floats = pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(np.float64)
            wrong = np.flatnonzero(np.isnan(floats) & ~pd.isna(raw))
            word = "an integer" if integer else "a number"
            problems = [(int(p), f"expected {word}, got {_shown(raw[p])}") for p in wrong]
    if integer:
        fractional = np.flatnonzero(~np.isnan(floats) & (np.floor(floats) != floats))
        flagged = {p for p, _ in problems}
        problems += [
            (int(p), f"expected an integer, got {floats[p]!r}")
            for p in fractional
            if p not in flagged
        ]
    return floats, problems


def _boolean(column: pa.ChunkedArray) -> tuple[np.ndarray, list[tuple[int, str]]]:
    if pa.types.is_boolean(column.type):
        return column.to_numpy(zero_copy_only=False).astype(object), []
    raw = column.to_numpy(zero_copy_only=False)
    out = np.empty(len(raw), dtype=object)
    problems: list[tuple[int, str]] = []
    for position, value in enumerate(raw):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            out[position] = None
            continue
        word = str(value).strip().lower()
        if word in _TRUE:
            out[position] = True
        elif word in _FALSE:
            out[position] = False
        else:
            out[position] = None
            problems.append((position, f"expected true or false, got {_shown(value)}"))
    return out, problems


def _text(
    name: str, column: pa.ChunkedArray, categories: tuple[Any, ...] | None
) -> tuple[np.ndarray, list[tuple[int, str]]]:
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        if pa.types.is_dictionary(column.type):
            column = pc.cast(column, pa.string())
        else:
            raise InvalidInput(
                f"column {name!r} holds {column.type} values; the model expects strings"
            )
    array = column.to_numpy(zero_copy_only=False)
    problems: list[tuple[int, str]] = []
    if categories is not None:
        known = pc.is_in(column, value_set=pa.array([str(c) for c in categories]))
        unknown = pc.and_(pc.invert(known), pc.is_valid(column))
        levels = sorted(map(str, categories))
        shown = ", ".join(map(repr, levels[:8])) + (" …" if len(levels) > 8 else "")
        problems = [
            (int(p), f"unknown category {_shown(array[p])}; known: {shown}")
            for p in np.flatnonzero(unknown.to_numpy(zero_copy_only=False))
        ]
    return array, problems


def _expected(array: np.ndarray, null: np.ndarray, rule: dict[str, Any]) -> list[tuple[int, str]]:
    """Range and allowed-value rules from a dataset's expectations."""
    problems: list[tuple[int, str]] = []
    low, high = rule.get("min"), rule.get("max")
    if (low is not None or high is not None) and array.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            if low is not None:
                problems += [
                    (int(p), f"{array[p]!r} is below the expected minimum {low}")
                    for p in np.flatnonzero(~null & (array < low))
                ]
            if high is not None:
                problems += [
                    (int(p), f"{array[p]!r} is above the expected maximum {high}")
                    for p in np.flatnonzero(~null & (array > high))
                ]
    allowed = rule.get("allowed")
    if allowed is not None:
        allowed_set = set(allowed)
        problems += [
            (int(p), f"{array[p]!r} is not an expected value")
            for p in np.flatnonzero(~null)
            if array[p] not in allowed_set
        ]
    return problems
