"""Request rows checked against a version's signature before the model runs.

A ``RowValidator`` is compiled once per version: one small check per column.
Each request's records become plain rows in signature order; a batch of rows
becomes one DataFrame with the signature's dtypes. Errors name the row and the
column, and list several problems at once so a client can fix them in one go.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.signature import ColumnSpec, Signature

MAX_REPORTED = 10
_MISSING = object()


class RequestValidationError(InvalidInput):
    """The request does not fit the signature; ``problems`` lists each (row, column, message)."""

    def __init__(self, problems: list[tuple[int | None, str | None, str]]) -> None:
        self.problems = problems
        shown = "; ".join(_describe(p) for p in problems[:MAX_REPORTED])
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        super().__init__(shown + more)


def _describe(problem: tuple[int | None, str | None, str]) -> str:
    row, column, message = problem
    where = []
    if row is not None:
        where.append(f"row {row}")
    if column is not None:
        where.append(f"column {column!r}")
    return (", ".join(where) + ": " if where else "") + message


def _short(names: list[str]) -> str:
    shown = ", ".join(map(repr, names[:6]))
    return f"[{shown}{', …' if len(names) > 6 else ''}] ({len(names)} columns)"


Check = Callable[[Any], tuple[Any, str | None]]


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _checker(spec: ColumnSpec) -> Check:
    nullable = spec.nullable
    allowed = frozenset(spec.categories) if spec.categories is not None else None

    def null(value: Any) -> tuple[Any, str | None]:
        if nullable:
            return None, None
        return None, "is null/NaN but the column is not nullable"

    if spec.dtype == "float64":

        def check_float(value: Any) -> tuple[Any, str | None]:
            if value is None or _is_nan(value):
                return null(value)
            if type(value) is float or (type(value) is int):
                return value, None
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                return None, f"expected a number, got {type(value).__name__} {value!r}"
            return float(value), None

        return check_float
    if spec.dtype == "int64":

        def check_int(value: Any) -> tuple[Any, str | None]:
            if value is None or _is_nan(value):
                return null(value)
            if type(value) is int:
                return value, None
            if isinstance(value, float) and value.is_integer():
                return int(value), None
            return None, f"expected an integer, got {type(value).__name__} {value!r}"

        return check_int
    if spec.dtype == "bool":

        def check_bool(value: Any) -> tuple[Any, str | None]:
            if value is None:
                return null(value)
            if isinstance(value, bool):
                return value, None
            return None, f"expected true or false, got {type(value).__name__} {value!r}"

        return check_bool

    def check_text(value: Any) -> tuple[Any, str | None]:
        if value is None or _is_nan(value):
            return null(value)
        if not isinstance(value, str):
            return None, f"expected a string, got {type(value).__name__} {value!r}"
        if allowed is not None and value not in allowed:
            levels = sorted(allowed)
            shown = ", ".join(map(repr, levels[:8])) + (" …" if len(levels) > 8 else "")
            return None, f"unknown category {value!r}; known: {shown}"
        return value, None

    return check_text


def _expected(check: Check, rule: dict[str, Any]) -> Check:
    """A column check tightened by a dataset's expectations (range, levels, nulls)."""
    low, high = rule.get("min"), rule.get("max")
    allowed = frozenset(rule["allowed"]) if rule.get("allowed") is not None else None
    nullable = bool(rule.get("nullable", True))

    def checked(value: Any) -> tuple[Any, str | None]:
        value, problem = check(value)
        if problem is not None:
            return value, problem
        if value is None:
            return (None, None) if nullable else (None, "is null; the expectations forbid it")
        if low is not None and value < low:
            return value, f"{value!r} is below the expected minimum {low}"
        if high is not None and value > high:
            return value, f"{value!r} is above the expected maximum {high}"
        if allowed is not None and value not in allowed:
            return value, f"{value!r} is not an expected value"
        return value, None

    return checked


@dataclass
class RowValidator:
    """Checks records against a signature (and, optionally, a dataset's expectations)
    and assembles batches for the model."""

    signature: Signature
    expectations: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.columns = self.signature.columns
        self._column_set = frozenset(self.columns)
        rules = (self.expectations or {}).get("columns", {})
        self._checks = [
            (
                spec.name,
                _expected(_checker(spec), rules[spec.name])
                if spec.name in rules
                else _checker(spec),
            )
            for spec in self.signature.inputs
        ]
        self.all_float = all(spec.dtype == "float64" for spec in self.signature.inputs)
        self._dtypes = {spec.name: spec.dtype for spec in self.signature.inputs}

    def rows_from_records(self, records: Sequence[Any]) -> list[list[Any]]:
        """Validated rows (signature order) from a list of ``{column: value}`` records."""
        if not isinstance(records, Sequence) or isinstance(records, str | bytes):
            raise RequestValidationError([(None, None, "inputs must be a list of records")])
        if not records:
            raise RequestValidationError([(None, None, "the batch is empty")])
        problems: list[tuple[int | None, str | None, str]] = []
        rows = []
        for index, record in enumerate(records):
            if not isinstance(record, Mapping):
                problems.append((index, None, f"expected an object, got {type(record).__name__}"))
                continue
            if len(record) != len(self.columns) or not self._column_set.issuperset(record):
                extra = [k for k in record if k not in self._column_set]
                if extra:
                    problems.append(
                        (
                            index,
                            extra[0],
                            f"unexpected column(s) {extra[:5]}; "
                            f"the model expects {_short(self.columns)}",
                        )
                    )
            row = []
            for name, check in self._checks:
                value = record.get(name, _MISSING)
                if value is _MISSING:
                    problems.append((index, name, "is missing"))
                    continue
                checked, problem = check(value)
                if problem is not None:
                    problems.append((index, name, problem))
                row.append(checked)
            rows.append(row)
            if len(problems) > MAX_REPORTED:
                break
        if problems:
            raise RequestValidationError(problems)
        return rows

    def rows_from_columns(self, columns: Sequence[Any], data: Sequence[Any]) -> list[list[Any]]:
        """Validated rows from the split form ``{"columns": [...], "data": [[...], ...]}``."""
        if not isinstance(columns, Sequence) or isinstance(columns, str):
            raise RequestValidationError([(None, "columns", "must be a list of column names")])
        if not isinstance(data, Sequence) or isinstance(data, str):
            raise RequestValidationError([(None, "data", "must be a list of rows")])
        names = list(columns)
        records = []
        for index, values in enumerate(data):
            if not isinstance(values, Sequence) or isinstance(values, str):
                raise RequestValidationError([(index, None, "each row must be a list of values")])
            if len(values) != len(names):
                raise RequestValidationError(
                    [(index, None, f"has {len(values)} values for {len(names)} columns")]
                )
            records.append(dict(zip(names, values, strict=True)))
        return self.rows_from_records(records)

    def frame(self, rows: list[list[Any]]) -> pd.DataFrame:
        """One DataFrame for a batch of validated rows, with the signature's dtypes."""
        if self.all_float:
            array = np.array(rows, dtype=np.float64)
            return pd.DataFrame(array, columns=self.columns, copy=False)
        frame = pd.DataFrame(rows, columns=self.columns)
        for name, dtype in self._dtypes.items():
            if dtype == "float64":
                frame[name] = frame[name].astype("float64")
            elif dtype == "int64" and not frame[name].isna().any():
                frame[name] = frame[name].astype("int64")
        return frame
