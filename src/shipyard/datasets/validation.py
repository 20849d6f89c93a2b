"""Dataset expectations, checked with pandera.

An expectations spec is plain YAML-shaped data, inferred from a version and
then edited by people::

    rows: {min: 1000}
    unique: [transaction_id]
    columns:
      amount: {dtype: float64, nullable: false, min: 0, max: 50000}
      country: {dtype: string, nullable: false, allowed: [DE, FR, NL]}
    checks: ["mypackage.checks:no_future_dates"]   # callables: frame -> bool or bool Series

It is compiled into a ``pandera.DataFrameSchema`` and run lazily, so every
failed rule is reported at once, with its count and a few example rows.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.pandas as pa

from shipyard.errors import InvalidInput

_DTYPES = {
    "float64": "float64",
    "int64": "int64",
    "bool": "bool",
    "string": "str",
    "category": "str",
    "datetime": "datetime64[ns]",
}
EXAMPLES = 5


@dataclass(frozen=True)
class RuleFailure:
    rule: str
    column: str | None
    count: int
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ValidationReport:
    rows: int
    failures: list[RuleFailure]

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "failures": [f.to_dict() for f in self.failures]}


def infer_expectations(schema: dict[str, Any]) -> dict[str, Any]:
    """A starting spec from a version's recorded schema (edit it, then set it)."""
    columns = {}
    for column in schema["columns"]:
        spec: dict[str, Any] = {"dtype": column["dtype"], "nullable": column["nullable"]}
        if column.get("minimum") is not None:
            spec["min"] = column["minimum"]
            spec["max"] = column["maximum"]
        if column.get("categories") is not None:
            spec["allowed"] = column["categories"]
        columns[column["name"]] = spec
    return {"rows": {"min": 1}, "columns": columns}


def _callable(reference: str) -> Callable[[pd.DataFrame], Any]:
    module, _, name = reference.partition(":")
    if not module or not name:
        raise InvalidInput(f"custom check {reference!r} must be 'module:function'")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(f"custom check {reference!r} cannot be imported: {exc}") from exc


def compile_schema(spec: dict[str, Any]) -> pa.DataFrameSchema:
    if not isinstance(spec, dict) or not isinstance(spec.get("columns", {}), dict):
        raise InvalidInput("expectations must be a mapping with a 'columns' mapping")
    unknown = set(spec) - {"rows", "unique", "columns", "checks"}
    if unknown:
        raise InvalidInput(f"unknown expectation field(s): {sorted(unknown)}")
    columns = {}
    for name, rule in spec.get("columns", {}).items():
        checks = []
        if "min" in rule and rule["min"] is not None:
            checks.append(pa.Check.ge(rule["min"], name="min"))
        if "max" in rule and rule["max"] is not None:
            checks.append(pa.Check.le(rule["max"], name="max"))
        if rule.get("allowed") is not None:
            checks.append(pa.Check.isin(rule["allowed"], name="allowed"))
        dtype = _DTYPES.get(rule.get("dtype", ""))
        columns[name] = pa.Column(
            dtype,
            checks=checks,
            nullable=bool(rule.get("nullable", True)),
            unique=bool(rule.get("unique", False)),
            coerce=False,
            required=True,
        )
    frame_checks = []
    rows = spec.get("rows") or {}
    if rows.get("min") is not None:
        low = int(rows["min"])
        frame_checks.append(
            pa.Check(lambda df, low=low: len(df) >= low, name=f"rows >= {low}", element_wise=False)
        )
    if rows.get("max") is not None:
        high = int(rows["max"])
        frame_checks.append(
            pa.Check(
                lambda df, high=high: len(df) <= high, name=f"rows <= {high}", element_wise=False
            )
        )
    for reference in spec.get("checks", []) or []:
        frame_checks.append(pa.Check(_callable(reference), name=reference))
    unique = spec.get("unique") or None
    return pa.DataFrameSchema(columns, checks=frame_checks, unique=unique, strict=False)


def validate_frame(frame: pd.DataFrame, spec: dict[str, Any]) -> ValidationReport:
    schema = compile_schema(spec)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return ValidationReport(len(frame), _failures(errors.failure_cases, frame))
    return ValidationReport(len(frame), [])


def _rule_name(row: pd.Series) -> str:
    check = str(row.get("check"))
    if check.startswith("dtype("):
        return "dtype"
    if check == "not_nullable":
        return "not_nullable"
    if check in ("field_uniqueness", "multiple_fields_uniqueness"):
        return "unique"
    if check == "column_in_dataframe":
        return "missing_column"
    for prefix, rule in (
        ("greater_than_or_equal_to", "min"),
        ("less_than_or_equal_to", "max"),
        ("isin", "allowed"),
    ):
        if check.startswith(prefix):
            return rule
    return check


def _failures(cases: pd.DataFrame, frame: pd.DataFrame) -> list[RuleFailure]:
    failures = []
    cases = cases.assign(rule=cases.apply(_rule_name, axis=1))
    for (rule, column), group in cases.groupby(
        ["rule", cases["column"].fillna("")], sort=True, dropna=False
    ):
        indices = [i for i in group["index"].tolist() if i is not None and not pd.isna(i)]
        examples = []
        for index in list(dict.fromkeys(indices))[:EXAMPLES]:
            if index in frame.index:
                examples.append(
                    {"row": int(index), **{k: _plain(v) for k, v in frame.loc[index].items()}}
                )
        if not examples and len(group):
            examples = [{"value": _plain(v)} for v in group["failure_case"].head(EXAMPLES)]
        count = len(set(indices)) if indices else len(group)
        failures.append(RuleFailure(str(rule), str(column) or None, count, examples))
    return failures


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return str(value)
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)
