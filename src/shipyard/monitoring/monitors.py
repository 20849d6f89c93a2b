"""Monitors: scheduled checks over a deployment's traffic, with alert rules.

A monitor (YAML/JSON spec or ``shipyard monitor create``) names a deployment,
a window, how often to run, and rules over the values each run computes:

- ``drift_share``, ``drifted_columns`` and ``prediction_drift`` (the output
  score's drift statistic) against the serving version's reference;
- quality where labels arrived (``accuracy``, ``f1``, ``roc_auc``, ``mae``...)
  and the label-free ``estimated_accuracy``;
- data quality: ``max_null_rate``, ``out_of_range_share`` (numbers outside
  the reference range), ``unseen_category_share``, and ``rows``;
- while an A/B experiment runs on the deployment, its result:
  ``experiment_invalid`` and ``experiment_winner`` (1 or 0), ``experiment_srm``,
  ``experiment_guardrail_breaches``, ``experiment_p_value`` and ``experiment_lift``
  (of the primary metric).

Every run stores each value (a time series per metric). A rule whose
condition holds opens a pending alert that fires once the condition has
held for ``for_s``; it resolves when the condition clears. One open alert per
rule (de-duplication); firing and resolving are audit events, so webhooks and
the continuous-training triggers see them. The ``MonitorRunner`` runs due
monitors in the one serving process that holds its lease.
"""

from __future__ import annotations

import logging
import operator
import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput, NotFound, ShipyardError
from shipyard.monitoring import service
from shipyard.monitoring.profile import CategoricalProfile, NumericProfile
from shipyard.store import Store
from shipyard.store.audit import now_ms
from shipyard.store.leased_loop import LeasedLoop

logger = logging.getLogger(__name__)

LEASE = "monitor-runner"
SEVERITIES = ("info", "warning", "critical")
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
RULE_PATTERN = rf"^\s*([a-z_0-9]+)\s*(>=|<=|>|<)\s*({_NUMBER})\s*$"
"""``metric op number``; the number is one ``float()`` reads."""
_RULE = re.compile(RULE_PATTERN)


@dataclass(frozen=True)
class Rule:
    name: str
    metric: str
    op: str
    threshold: float
    severity: str = "warning"
    for_s: float = 0.0

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise InvalidInput(f"rule {self.name!r}: operator must be one of {list(_OPS)}")
        if self.severity not in SEVERITIES:
            raise InvalidInput(f"rule {self.name!r}: severity must be one of {SEVERITIES}")

    def breached(self, value: float | None) -> bool:
        return value is not None and not np.isnan(value) and _OPS[self.op](value, self.threshold)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def parse(cls, text: str, severity: str = "warning", for_s: float = 0.0) -> Rule:
        """``drift_share >= 0.3`` (the metric names the rule)."""
        match = _RULE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidInput(f"cannot read rule {text!r}; write e.g. 'drift_share >= 0.3'")
        metric, op, threshold = match.groups()
        return cls(metric, metric, op, float(threshold), severity, for_s)


@dataclass(frozen=True)
class MonitorSpec:
    deployment: str
    window_s: float = 3600.0
    interval_s: float = 300.0
    rules: tuple[Rule, ...] = ()
    quality_metrics: tuple[str, ...] = ("accuracy", "f1", "roc_auc", "mae", "rmse")

    def __post_init__(self) -> None:
        if self.window_s <= 0 or self.interval_s <= 0:
            raise InvalidInput("window and interval must be positive")

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "window_s": self.window_s,
            "interval_s": self.interval_s,
            "rules": [r.to_dict() for r in self.rules],
            "quality_metrics": list(self.quality_metrics),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitorSpec:
        if not isinstance(data, dict) or "deployment" not in data:
            raise InvalidInput('a monitor spec is a mapping with at least "deployment"')
        unknown = set(data) - {"deployment", "window_s", "interval_s", "rules", "quality_metrics"}
        if unknown:
            raise InvalidInput(f"unknown monitor spec field(s): {sorted(unknown)}")
        rules = []
        for raw in data.get("rules", []):
            if isinstance(raw, str):
                rules.append(Rule.parse(raw))
            elif isinstance(raw, dict) and "when" in raw:
                parsed = Rule.parse(
                    raw["when"], raw.get("severity", "warning"), float(raw.get("for_s", 0))
                )
                rules.append(
                    Rule(
                        raw.get("name", parsed.name),
                        parsed.metric,
                        parsed.op,
                        parsed.threshold,
                        parsed.severity,
                        parsed.for_s,
                    )
                )
            elif isinstance(raw, dict):
                rules.append(Rule(**raw))
            else:
                raise InvalidInput(f"cannot read rule {raw!r}")
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise InvalidInput(f"rule names must be unique: {names}")
        return cls(
            str(data["deployment"]),
            float(data.get("window_s", 3600)),
            float(data.get("interval_s", 300)),
            tuple(rules),
            tuple(data.get("quality_metrics", cls.quality_metrics)),
        )


def data_quality(
    frame: pd.DataFrame, references: dict[str, Any], columns: list[str]
) -> dict[str, float]:
    """Null rate, values outside the reference range, categories the reference never saw."""
    nulls, outside, unseen = [], 0, 0
    numeric_cells = categorical_cells = 0
    for name in columns:
        column = frame.get(f"in.{name}")
        if column is None:
            continue
        nulls.append(float(column.isna().mean()))
        reference = references.get(name)
        present = column.dropna()
        if isinstance(reference, NumericProfile) and len(present):
            values = pd.to_numeric(present, errors="coerce")
            outside += int(((values < reference.minimum) | (values > reference.maximum)).sum())
            numeric_cells += len(values)
        elif isinstance(reference, CategoricalProfile) and len(present):
            unseen += int((~present.astype(str).isin(list(reference.frequencies))).sum())
            categorical_cells += len(present)
    return {
        "max_null_rate": max(nulls) if nulls else 0.0,
        "out_of_range_share": outside / numeric_cells if numeric_cells else 0.0,
        "unseen_category_share": unseen / categorical_cells if categorical_cells else 0.0,
    }


def evaluate(store: Store, spec: MonitorSpec) -> dict[str, tuple[float | None, dict[str, Any]]]:
    """One run: every value the monitor knows how to compute for the window."""
    values: dict[str, tuple[float | None, dict[str, Any]]] = {}
    frame = service.window_frame(store, spec.deployment, spec.window_s)
    values["rows"] = (float(len(frame)), {})
    values.update(_experiment_values(store, spec.deployment))
    if frame.empty:
        return values
    version = service.serving_version(store, spec.deployment)
    try:
        references = service.reference_of(store, version)
    except NotFound:
        references = {}
    if references:
        drift = service.drift(store, spec.deployment, spec.window_s)
        inputs = [r for r in drift.columns if not r.column.startswith("__")]
        share = sum(r.drifted for r in inputs) / len(inputs) if inputs else 0.0
        values["drift_share"] = (
            share,
            {
                "drifted": [r.column for r in inputs if r.drifted],
                "columns": [r.to_dict() for r in drift.columns],
            },
        )
        values["drifted_columns"] = (float(sum(r.drifted for r in inputs)), {})
        score = next((r for r in drift.columns if r.column == service.SCORE), None)
        if score is not None:
            values["prediction_drift"] = (score.statistic, score.to_dict())
        for metric, value in data_quality(frame, references, version.signature.columns).items():
            values[metric] = (value, {})
    for result in service.quality(store, spec.deployment, spec.window_s):
        for name in spec.quality_metrics:
            if name in result.metrics:
                values[name] = (result.metrics[name], {"labelled": result.labelled})
        if "accuracy" in result.estimated:
            values["estimated_accuracy"] = (result.estimated["accuracy"], {"method": "CBPE"})
        values["labelled"] = (float(result.labelled), {})
    return values


def _experiment_values(
    store: Store, deployment: str
) -> dict[str, tuple[float | None, dict[str, Any]]]:
    record = store.experiments.running_for(deployment)
    if record is None:
        return {}
    # Imported here: the experiment statistics (scipy.stats) are needed only when one runs.
    from shipyard.abtest.report import build_report, monitor_values

    return monitor_values(build_report(store, record))


def run_monitor(store: Store, name: str) -> dict[str, float | None]:
    """Evaluate now, store the values, advance every rule's alert."""
    record = store.monitors.get(name)
    spec = MonitorSpec.from_dict(record.spec)
    now = now_ms()
    values = evaluate(store, spec)
    store.monitors.record_run(name, now, values)
    for rule in spec.rules:
        value = values.get(rule.metric, (None, {}))[0]
        breached = rule.breached(value)
        message = (
            f"{rule.metric} = {value:.4g} {rule.op} {rule.threshold:g}"
            if breached and value is not None
            else f"{rule.metric} back within {rule.op} {rule.threshold:g}"
        )
        event = store.monitors.transition_alert(
            name,
            rule.name,
            breached=breached,
            value=value,
            severity=rule.severity,
            for_s=rule.for_s,
            message=message,
            now=now,
            deployment=spec.deployment,
        )
        if event == "fire":
            log = logger.error if rule.severity == "critical" else logger.warning
            log("ALERT %s/%s (%s): %s", name, rule.name, rule.severity, message)
        elif event == "resolve":
            logger.info("resolved %s/%s: %s", name, rule.name, message)
    return {metric: value for metric, (value, _) in values.items()}


class MonitorRunner(LeasedLoop):
    """Runs due monitors in the one process holding the lease; keeps the last values."""

    lease = LEASE

    def __init__(
        self, store: Store, holder: str, *, tick_s: float = 1.0, lease_ttl_s: float | None = None
    ) -> None:
        super().__init__(store, holder, tick_s=tick_s, lease_ttl_s=lease_ttl_s or tick_s * 10)
        #: (monitor, deployment, metric) -> the last value (``shipyard_monitor_value``).
        self.latest: dict[tuple[str, str, str], float] = {}

    def tick(self) -> None:
        super().tick()
        if not self.leading and self.latest:
            # Another process runs the monitors now: its values are the service's, and
            # ours would go stale on /metrics (dashboards take the max over replicas).
            self.latest.clear()

    def work(self) -> None:
        """Blocking: run every monitor whose interval has passed."""
        now = time.time() * 1000
        records = self.store.monitors.all()
        names = {record.name for record in records}
        for key in [key for key in self.latest if key[0] not in names]:
            del self.latest[key]  # a deleted monitor's last values
        for record in records:
            spec = MonitorSpec.from_dict(record.spec)
            if now - record.last_run_at < spec.interval_s * 1000:
                continue
            try:
                for metric, value in run_monitor(self.store, record.name).items():
                    if value is not None:
                        self.latest[(record.name, spec.deployment, metric)] = value
            except ShipyardError as exc:
                logger.warning("monitor %s: %s", record.name, exc)
                self.store.monitors.record_run(record.name, now_ms(), {})
