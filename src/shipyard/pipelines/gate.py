"""The gate: may this candidate replace the champion? Measured on held-out data.

Checks are written the way people say them::

    auc >= 0.85                      absolute
    auc >= champion.auc - 0.01       relative to the current champion
    rmse <= champion.rmse * 1.05

plus per-slice minimums (``{"column": "region", "min": {"accuracy": 0.8}}``)
and fairness bounds (``{"attribute": "sex", "metric": "positive_rate",
"max_difference": 0.1}``: the largest gap between groups). Relative checks
pass with a note when there is no champion yet (the first model).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput, ShipyardError

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_CHECK = re.compile(
    r"^\s*(?P<metric>[a-z_0-9]+)\s*(?P<op>>=|<=|>|<)\s*"
    r"(?:champion\.(?P<ref>[a-z_0-9]+)\s*(?:(?P<arith>[-+*])\s*(?P<amount>[0-9.eE+-]+))?"
    r"|(?P<number>[-+]?[0-9.eE+-]+))\s*$"
)
CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "auc", "positive_rate")
REGRESSION = ("rmse", "mae", "r2")
FAIRNESS_METRICS = ("positive_rate", "recall", "accuracy")


class GateFailed(ShipyardError):
    """The candidate did not pass; ``result`` says which checks failed and by how much."""

    def __init__(self, result: GateResult) -> None:
        failed = [c for c in result.checks if not c.passed]
        super().__init__("gate failed: " + "; ".join(f"{c.name} ({c.detail})" for c in failed))
        self.result = result


@dataclass(frozen=True)
class Check:
    """One parsed check, e.g. ``auc >= champion.auc - 0.01``."""

    text: str
    metric: str
    op: str
    number: float | None = None
    ref: str | None = None
    arith: str | None = None
    amount: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Check:
        match = _CHECK.match(text)
        if match is None:
            raise InvalidInput(
                f"cannot read gate check {text!r}; write e.g. 'auc >= 0.85' or "
                "'auc >= champion.auc - 0.01'"
            )
        metric, ref = match["metric"], match["ref"]
        for name in (metric, ref):
            if name is not None and name not in CLASSIFICATION + REGRESSION:
                raise InvalidInput(
                    f"gate check {text!r}: unknown metric {name!r}; "
                    f"use one of {list(CLASSIFICATION + REGRESSION)}"
                )
        return cls(
            text.strip(),
            metric,
            match["op"],
            number=float(match["number"]) if match["number"] else None,
            ref=ref,
            arith=match["arith"],
            amount=float(match["amount"] or 0.0),
        )

    def bound(self, champion: dict[str, float] | None) -> float | None:
        if self.ref is None:
            return self.number
        if champion is None:
            return None
        base = champion[self.ref]
        if self.arith == "-":
            return base - self.amount
        if self.arith == "+":
            return base + self.amount
        if self.arith == "*":
            return base * self.amount
        return base


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    value: float | None
    bound: float | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class GateResult:
    passed: bool
    candidate: str
    champion: str | None
    dataset: str
    rows: int
    metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    checks: list[CheckOutcome] = field(default_factory=list)
    slices: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "candidate": self.candidate,
            "champion": self.champion,
            "dataset": self.dataset,
            "rows": self.rows,
            "metrics": self.metrics,
            "champion_metrics": self.champion_metrics,
            "checks": [c.to_dict() for c in self.checks],
            "slices": self.slices,
        }


@dataclass(frozen=True)
class GateSpec:
    checks: tuple[Check, ...]
    label: str = "target"
    slices: tuple[dict[str, Any], ...] = ()
    fairness: tuple[dict[str, Any], ...] = ()
    min_slice_rows: int = 30

    @classmethod
    def build(
        cls,
        checks: list[str],
        *,
        label: str = "target",
        slices: list[dict[str, Any]] | None = None,
        fairness: list[dict[str, Any]] | dict[str, Any] | None = None,
        min_slice_rows: int = 30,
    ) -> GateSpec:
        parsed = tuple(Check.parse(c) for c in checks)
        for spec in slices or []:
            if not isinstance(spec, dict) or "column" not in spec or "min" not in spec:
                raise InvalidInput(
                    f"gate slice {spec!r}: write {{'column': 'region', 'min': {{'accuracy': 0.8}}}}"
                )
        fair = [fairness] if isinstance(fairness, dict) else list(fairness or [])
        for spec in fair:
            if (
                not isinstance(spec, dict)
                or "attribute" not in spec
                or spec.get("metric", "positive_rate") not in FAIRNESS_METRICS
                or not isinstance(spec.get("max_difference"), int | float)
            ):
                raise InvalidInput(
                    f"gate fairness {spec!r}: write {{'attribute': 'sex', 'metric': one of "
                    f"{list(FAIRNESS_METRICS)}, 'max_difference': 0.1}}"
                )
        return cls(parsed, label, tuple(slices or ()), tuple(fair), min_slice_rows)


def measure(model: Any, X: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    """Held-out metrics of a loaded model: classification when it has probabilities."""
    from sklearn import metrics as skm

    predicted = np.asarray(model.predict(X))
    if not hasattr(model, "predict_proba"):
        error = predicted.astype(float) - y.to_numpy(dtype=float)
        return {
            "rmse": float(np.sqrt(np.mean(error**2))),
            "mae": float(np.mean(np.abs(error))),
            "r2": float(skm.r2_score(y, predicted)),
        }
    classes = list(model.classes) if model.classes is not None else sorted(pd.unique(y))
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    positive = classes[-1]
    kwargs: dict[str, Any] = {"average": average, "zero_division": 0}
    if binary:
        kwargs["pos_label"] = positive
    result = {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "precision": float(skm.precision_score(y, predicted, **kwargs)),
        "recall": float(skm.recall_score(y, predicted, **kwargs)),
        "f1": float(skm.f1_score(y, predicted, **kwargs)),
        "positive_rate": float(np.mean(predicted == positive)),
    }
    if binary and y.nunique() == 2:
        scores = np.asarray(model.predict_proba(X))[:, 1]
        result["auc"] = float(skm.roc_auc_score(y == positive, scores))
    return result


def evaluate(
    spec: GateSpec,
    candidate: Any,
    champion: Any | None,
    data: pd.DataFrame,
    *,
    candidate_name: str,
    champion_name: str | None,
    dataset: str,
) -> GateResult:
    if spec.label not in data.columns:
        raise InvalidInput(
            f"gate: the held-out dataset {dataset} has no label column {spec.label!r} "
            f"(columns: {list(data.columns)[:20]})"
        )
    y = data[spec.label]
    X = data.drop(columns=[spec.label])
    metrics = measure(candidate, X, y)
    champion_metrics = measure(champion, X, y) if champion is not None else None
    outcomes = [_check(c, metrics, champion_metrics) for c in spec.checks]
    slices: dict[str, dict[str, dict[str, float]]] = {}
    for slice_spec in spec.slices:
        found, checked = _slice(slice_spec, candidate, X, y, spec.min_slice_rows)
        slices[str(slice_spec["column"])] = found
        outcomes.extend(checked)
    for fairness in spec.fairness:
        outcomes.append(_fairness(fairness, candidate, X, y, spec.min_slice_rows))
    return GateResult(
        passed=all(o.passed for o in outcomes),
        candidate=candidate_name,
        champion=champion_name,
        dataset=dataset,
        rows=len(data),
        metrics=metrics,
        champion_metrics=champion_metrics,
        checks=outcomes,
        slices=slices,
    )


def _check(
    check: Check, metrics: dict[str, float], champion: dict[str, float] | None
) -> CheckOutcome:
    value = metrics.get(check.metric)
    if value is None:
        return CheckOutcome(
            check.text, False, None, None, f"{check.metric} is not measured for this model"
        )
    if check.ref is not None and champion is None:
        return CheckOutcome(check.text, True, value, None, "no champion yet: passes")
    if check.ref is not None and check.ref not in (champion or {}):
        return CheckOutcome(check.text, False, value, None, f"champion has no {check.ref}")
    bound = check.bound(champion)
    assert bound is not None
    passed = bool(_OPS[check.op](value, bound))
    return CheckOutcome(
        check.text,
        passed,
        value,
        bound,
        f"{check.metric}={value:.4f}, needs {check.op} {bound:.4f}",
    )


def _groups(X: pd.DataFrame, column: str, min_rows: int) -> list[tuple[Any, pd.Index]]:
    if column not in X.columns:
        raise InvalidInput(f"gate: the held-out data has no column {column!r} to slice by")
    groups = X.groupby(column, observed=True, dropna=False).groups
    return [(value, index) for value, index in groups.items() if len(index) >= min_rows]


def _slice(
    spec: dict[str, Any], model: Any, X: pd.DataFrame, y: pd.Series, min_rows: int
) -> tuple[dict[str, dict[str, float]], list[CheckOutcome]]:
    column = str(spec["column"])
    minimums: dict[str, float] = dict(spec["min"])
    found: dict[str, dict[str, float]] = {}
    outcomes = []
    for value, index in _groups(X, column, int(spec.get("min_rows", min_rows))):
        measured = measure(model, X.loc[index], y.loc[index])
        found[str(value)] = measured
        for metric, minimum in minimums.items():
            got = measured.get(metric)
            passed = got is not None and got >= minimum
            outcomes.append(
                CheckOutcome(
                    f"{column}={value}: {metric} >= {minimum}",
                    passed,
                    got,
                    float(minimum),
                    f"{metric}={got if got is None else round(got, 4)} on {len(index)} rows",
                )
            )
    return found, outcomes


def _fairness(
    spec: dict[str, Any], model: Any, X: pd.DataFrame, y: pd.Series, min_rows: int
) -> CheckOutcome:
    attribute = str(spec["attribute"])
    metric = str(spec.get("metric", "positive_rate"))
    bound = float(spec["max_difference"])
    values = {
        str(value): measure(model, X.loc[index], y.loc[index])[metric]
        for value, index in _groups(X, attribute, min_rows)
    }
    name = f"fairness: {metric} gap across {attribute} <= {bound}"
    if len(values) < 2:
        return CheckOutcome(name, True, None, bound, "fewer than two groups with enough rows")
    gap = max(values.values()) - min(values.values())
    detail = ", ".join(f"{k}: {v:.3f}" for k, v in sorted(values.items()))
    return CheckOutcome(name, gap <= bound, gap, bound, f"gap {gap:.4f} ({detail})")
