"""The chunk validator keeps the request validator's rules: same rows refused, same reasons."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from shipyard.errors import InvalidInput
from shipyard.serving.frame_validation import FrameValidator
from shipyard.serving.validation import RequestValidationError, RowValidator
from shipyard.signature import ColumnSpec, Signature

SIGNATURE = Signature(
    (
        ColumnSpec("amount", "float64", nullable=False),
        ColumnSpec("count", "int64", nullable=True),
        ColumnSpec("color", "string", nullable=False, categories=("red", "blue")),
        ColumnSpec("flag", "bool", nullable=True),
    )
)
EXPECTATIONS = {"columns": {"amount": {"min": 0.0, "max": 100.0}}}

# (amount, count, color, flag) as a CSV reader delivers them (text) or typed
ROWS = [
    ("1.5", "3", "red", "true"),
    ("abc", "3", "red", "false"),  # not a number
    ("", "3", "blue", None),  # null in a non-nullable column
    ("2", "3.5", "blue", "1"),  # not an integer
    ("2", None, "green", "0"),  # unknown category
    ("2", "4", "red", "maybe"),  # not a boolean
    ("250", "1", "red", "false"),  # above the expected maximum
    ("-1", "1", None, "false"),  # below the minimum, and a null color
    ("7", "2", "blue", None),
]


def _typed(value: str | None, dtype: str) -> object:
    """What a JSON client would send for the same cell."""
    if value is None or value == "":
        return None
    if dtype == "float64":
        try:
            return float(value)
        except ValueError:
            return value
    if dtype == "int64":
        number = float(value)
        return int(number) if number.is_integer() else number
    if dtype == "bool":
        return {"true": True, "false": False, "1": True, "0": False}.get(value, value)
    return value


def test_the_same_rows_are_refused_for_the_same_columns() -> None:
    table = pa.table(
        {
            spec.name: pa.array([r[i] for r in ROWS], pa.string())
            for i, spec in enumerate(SIGNATURE.inputs)
        }
    )
    checked = FrameValidator(SIGNATURE, EXPECTATIONS).check(table)
    by_row: dict[int, set[str | None]] = {}
    for row, column, _ in checked.rejects:
        by_row.setdefault(row, set()).add(column)
    validator = RowValidator(SIGNATURE, EXPECTATIONS)
    for index, raw in enumerate(ROWS):
        record = {s.name: _typed(v, s.dtype) for s, v in zip(SIGNATURE.inputs, raw, strict=True)}
        try:
            validator.rows_from_records([record])
            expected: set[str | None] = set()
        except RequestValidationError as error:
            expected = {column for _, column, _ in error.problems}
        assert by_row.get(index, set()) == expected, (index, raw)
    assert checked.positions.tolist() == [0, 8]
    frame = checked.inputs
    assert frame["amount"].tolist() == [1.5, 7.0] and frame["color"].tolist() == ["red", "blue"]
    assert frame["flag"].tolist()[0] is True and frame["flag"].tolist()[1] is None


def test_reasons_name_the_value() -> None:
    table = pa.table({"x": pa.array(["1", "abc", None, "4"], pa.string())})
    signature = Signature((ColumnSpec("x", "float64", nullable=False),))
    checked = FrameValidator(signature).check(table)
    assert checked.rejects == [
        (1, "x", "expected a number, got 'abc'"),
        (2, "x", "is null/NaN but the column is not nullable"),
    ]
    assert checked.inputs.tolist() == [[1.0], [4.0]]


def test_typed_parquet_columns_take_the_fast_path() -> None:
    values = np.arange(100_000, dtype=np.float64)
    table = pa.table({"a": values, "b": pa.array(values.astype(np.int64))})
    signature = Signature((ColumnSpec("a", "float64", False), ColumnSpec("b", "float64", False)))
    checked = FrameValidator(signature).check(table)
    assert not checked.rejects and checked.inputs.shape == (100_000, 2)
    assert checked.inputs.dtype == np.float64 and checked.inputs[-1, 1] == 99_999.0
    nan_row = pa.table({"a": [1.0, math.nan], "b": [1.0, 2.0]})
    assert FrameValidator(signature).check(nan_row).rejects[0][:2] == (1, "a")


def test_a_missing_column_is_one_error_not_a_reject_per_row() -> None:
    signature = Signature((ColumnSpec("a", "float64", False),))
    with pytest.raises(InvalidInput, match=r"no column\(s\) \['a'\]"):
        FrameValidator(signature).check(pa.table({"b": [1.0]}))
