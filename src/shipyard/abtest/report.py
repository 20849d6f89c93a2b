"""The report of an experiment: per arm and metric, the comparison with the control,
the sample-ratio check, guardrails, and one decision.

The unit is the user: the A/B key a request was assigned by (the prediction
log keeps it hashed). A user counts once, with the mean of their rows' values,
so a user who sends a hundred requests does not weigh a hundred times (and the
sample-ratio check counts users, the unit of assignment). Rows logged without
a key (a bandit routes at random) are their own units. Rows join their
feedback by request id, so labels and outcomes that arrive late count as soon
as they arrive; a row without the metric's value (no label or outcome yet) is
not counted for that metric. Only rows logged while the experiment ran, on one
of its arms, are read.

The decision is made on the primary (first) metric:

- ``invalid``: the assignment counts do not match the declared split (SRM) or a
  treatment arm breaks a guardrail; the numbers are not to be trusted;
- ``keep_running``: below ``min_samples`` per arm, or (fixed horizon) short of
  the sample size the declared power needs, or (sequential) not yet decided;
- ``winner``: an arm is significantly better than the others it was compared with;
- ``no_difference``: the sample the power asked for shows no significant
  difference (fixed horizon), or the always-valid interval excludes every effect
  as large as the minimum effect (sequential).

With more than one treatment arm, each comparison uses alpha / (arms - 1)
(Bonferroni), so the chance of any false winner stays at alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.abtest import bandit, stats
from shipyard.abtest.spec import (
    LABEL_METRICS,
    SERVING_GUARDRAILS,
    ExperimentSpec,
    Guardrail,
    MetricSpec,
)
from shipyard.monitoring.predlog import read_predictions
from shipyard.monitoring.quality import join_feedback
from shipyard.serving.stats import VersionStats
from shipyard.store import Store
from shipyard.store.experiment_store import ExperimentRecord


@dataclass(frozen=True)
class ArmMetric:
    arm: str
    n: int
    mean: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class MetricResult:
    metric: str
    kind: str
    lower_is_better: bool
    arms: tuple[ArmMetric, ...]
    comparisons: dict[str, stats.Comparison]  # treatment arm -> its comparison with control
    required_per_arm: int | None  # the sample size per arm the declared power needs
    verdicts: dict[str, str]  # treatment arm -> better | worse | equivalent | undecided
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "kind": self.kind,
            "lower_is_better": self.lower_is_better,
            "arms": [a.to_dict() for a in self.arms],
            "comparisons": {arm: c.to_dict() for arm, c in self.comparisons.items()},
            "required_per_arm": self.required_per_arm,
            "verdicts": dict(self.verdicts),
            "note": self.note,
        }


@dataclass(frozen=True)
class GuardrailResult:
    guardrail: str
    arm: str
    value: float | None
    holds: bool | None  # None: no data yet

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Decision:
    verdict: str  # winner | no_difference | keep_running | invalid
    winner: str | None
    reason: str
    samples_needed: int | None = None  # per arm, when keep_running

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ExperimentReport:
    name: str
    deployment: str
    status: str
    started_at: int
    started_by: str
    stopped_at: int | None
    control: str
    assigned: dict[str, int]
    expected_shares: dict[str, float]
    srm: stats.SampleRatio | None
    metrics: tuple[MetricResult, ...]
    guardrails: tuple[GuardrailResult, ...]
    decision: Decision
    sequential: bool
    alpha: float
    bandit: dict[str, Any] | None = None
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def trustworthy(self) -> bool:
        return self.decision.verdict != "invalid"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "deployment": self.deployment,
            "status": self.status,
            "started_at": self.started_at,
            "started_by": self.started_by,
            "stopped_at": self.stopped_at,
            "control": self.control,
            "assigned": dict(self.assigned),
            "expected_shares": dict(self.expected_shares),
            "srm": self.srm.to_dict() if self.srm is not None else None,
            "metrics": [m.to_dict() for m in self.metrics],
            "guardrails": [g.to_dict() for g in self.guardrails],
            "decision": self.decision.to_dict(),
            "trustworthy": self.trustworthy,
            "sequential": self.sequential,
            "alpha": self.alpha,
            "bandit": self.bandit,
            "spec": self.spec,
        }


def experiment_frame(store: Store, record: ExperimentRecord, spec: ExperimentSpec) -> pd.DataFrame:
    """The experiment's logged rows on its arms, joined with their feedback."""
    table = read_predictions(
        store.artifacts, record.deployment, since_ms=record.started_at, until_ms=record.stopped_at
    )
    frame = join_feedback(
        table, store.feedback.all_for(record.deployment, since_ms=record.started_at)
    )
    if frame.empty or "arm" not in frame.columns:
        return frame.assign(arm=pd.Series(dtype=object))
    return frame[frame["arm"].isin(spec.labels)]


def metric_values(frame: pd.DataFrame, name: str) -> pd.Series:
    """Per-row values of a metric (NaN where the row has none yet)."""
    if name in LABEL_METRICS:
        if "label" not in frame.columns or "prediction" not in frame.columns:
            return pd.Series(np.nan, index=frame.index)
        labelled = frame["label"].notna()
        if name == "accuracy":
            predicted = pd.to_numeric(frame["prediction"], errors="coerce")
            truth = pd.to_numeric(frame["label"], errors="coerce")
            numeric = predicted.notna() & truth.notna()
            same = np.where(
                numeric,
                predicted == truth,
                frame["prediction"].astype(str) == frame["label"].astype(str),
            )
            return pd.Series(np.where(labelled, same.astype(float), np.nan), index=frame.index)
        error = pd.to_numeric(frame["prediction"], errors="coerce") - pd.to_numeric(
            frame["label"], errors="coerce"
        )
        values = error.abs() if name == "abs_error" else error**2
        return values.where(labelled)
    if name in frame.columns:
        return pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return pd.Series(np.nan, index=frame.index)


def _direction(spec: MetricSpec, difference: float) -> float:
    return -difference if spec.lower_is_better else difference


def units_of(frame: pd.DataFrame) -> pd.Series:
    """The analysis unit of each row: its hashed A/B key, else the row itself."""
    own = frame["request_id"].astype(str) + "#" + frame["row"].astype(str)
    if "unit" not in frame.columns:
        return own
    return frame["unit"].where(frame["unit"].notna(), own).astype(str)


def per_unit(frame: pd.DataFrame, values: pd.Series, pre: pd.Series | None) -> pd.DataFrame:
    """One row per unit with a value: its arm, the mean of its values (and covariate).
    A unit seen on two arms (weights changed under it) is left out, as GrowthBook does
    with multiple exposures."""
    data = pd.DataFrame({"unit": units_of(frame), "arm": frame["arm"], "value": values})
    if pre is not None:
        data["pre"] = pre
    data = data.dropna()
    arms_per_unit = data.groupby("unit")["arm"].nunique()
    data = data[data["unit"].isin(arms_per_unit.index[arms_per_unit == 1])]
    return data.groupby(["unit", "arm"], sort=False).mean().reset_index()


def evaluate_metric(frame: pd.DataFrame, spec: ExperimentSpec, metric: MetricSpec) -> MetricResult:
    values = metric_values(frame, metric.name)
    pre = metric_values(frame, metric.pre) if metric.pre else None
    if len(frame):
        units = per_unit(frame, values, pre)
    else:
        units = pd.DataFrame({"unit": [], "arm": [], "value": [], "pre": []})
    by_arm: dict[str, np.ndarray] = {}
    pre_by_arm: dict[str, np.ndarray] = {}
    for label in spec.labels:
        in_arm = units[units["arm"] == label]
        by_arm[label] = in_arm["value"].to_numpy(float)
        if pre is not None:
            pre_by_arm[label] = in_arm["pre"].to_numpy(float)
    pooled = np.concatenate(list(by_arm.values())) if by_arm else np.zeros(0)
    binary = bool(np.isin(pooled, (0.0, 1.0)).all())
    kind, note = metric.kind, ""
    if kind == "auto":
        kind = "rate" if binary and len(pooled) else "mean"
    elif kind == "rate" and not binary:
        kind = "mean"
        note = "not 0/1 per user (users with several rows average them): compared as a mean"
    arms = tuple(
        ArmMetric(label, len(v), float(v.mean()) if len(v) else None) for label, v in by_arm.items()
    )
    control = by_arm[spec.control]
    alpha = spec.alpha / (len(spec.labels) - 1)
    comparisons: dict[str, stats.Comparison] = {}
    verdicts: dict[str, str] = {}
    required = _required(control, pre_by_arm.get(spec.control), spec, alpha, rate=kind == "rate")
    tuning = max(spec.min_samples, required or 0)
    for label in spec.labels[1:]:
        treatment = by_arm[label]
        if len(control) < 2 or len(treatment) < 2:
            verdicts[label] = "undecided"
            continue
        if metric.pre is not None:
            comparison = stats.compare_means(
                control,
                treatment,
                alpha=alpha,
                sequential=spec.sequential,
                tuning_n=tuning,
                control_pre=pre_by_arm[spec.control],
                treatment_pre=pre_by_arm[label],
            )
        elif kind == "rate":
            comparison = stats.compare_rates(
                control, treatment, alpha=alpha, sequential=spec.sequential, tuning_n=tuning
            )
        else:
            comparison = stats.compare_means(
                control, treatment, alpha=alpha, sequential=spec.sequential, tuning_n=tuning
            )
        comparisons[label] = comparison
        verdicts[label] = _verdict(comparison, metric, spec, control, required)
    return MetricResult(
        metric.name, kind, metric.lower_is_better, arms, comparisons, required, verdicts, note
    )


def _min_effect(control: np.ndarray, spec: ExperimentSpec) -> float:
    """The minimum effect in the metric's units: relative to the control's mean (absolute
    when the control's mean is 0)."""
    base = abs(float(control.mean())) if len(control) else 0.0
    return spec.min_effect * base if base > 0 else spec.min_effect


def _required(
    control: np.ndarray,
    control_pre: np.ndarray | None,
    spec: ExperimentSpec,
    alpha: float,
    *,
    rate: bool,
) -> int | None:
    if len(control) < 2:
        return None
    variance = float(control.var(ddof=1))
    if control_pre is not None and len(control_pre) > 2 and control_pre.std() > 0:
        correlation = float(np.corrcoef(control, control_pre)[0, 1])
        if math.isfinite(correlation):
            variance *= 1 - correlation**2  # what CUPED leaves of the variance
    if variance <= 0:
        return spec.min_samples
    effect = _min_effect(control, spec)
    treatment_variance = None
    if rate and control_pre is None:
        # A rate's variance moves with it: plan on the treatment's at the minimum effect.
        planned = min(max(float(control.mean()) + effect, 0.0), 1.0)
        treatment_variance = max(planned * (1 - planned), variance)
    return stats.required_sample_size(
        float(control.mean()),
        variance,
        effect,
        alpha=alpha,
        power=spec.power,
        treatment_variance=treatment_variance,
    )


def _verdict(
    comparison: stats.Comparison,
    metric: MetricSpec,
    spec: ExperimentSpec,
    control: np.ndarray,
    required: int | None,
) -> str:
    n = min(comparison.control_n, comparison.treatment_n)
    if n < spec.min_samples:
        return "undecided"
    alpha = spec.alpha / (len(spec.labels) - 1)
    significant = comparison.p_value < alpha
    if not spec.sequential and required is not None and n < required:
        return "undecided"  # a fixed-horizon test is read at its planned sample size
    if significant:
        return "better" if _direction(metric, comparison.difference) > 0 else "worse"
    if not spec.sequential:
        return "equivalent"
    effect = _min_effect(control, spec)
    if -effect < comparison.ci_low and comparison.ci_high < effect:
        return "equivalent"
    return "undecided"


def assigned_counts(frame: pd.DataFrame, spec: ExperimentSpec) -> dict[str, int]:
    """Units (users) per arm: what the sample-ratio check compares with the split."""
    if not len(frame):
        return {label: 0 for label in spec.labels}
    counts = pd.DataFrame({"unit": units_of(frame), "arm": frame["arm"]}).drop_duplicates()
    per_arm = counts["arm"].value_counts()
    return {label: int(per_arm.get(label, 0)) for label in spec.labels}


def guardrail_results(
    store: Store,
    record: ExperimentRecord,
    spec: ExperimentSpec,
    frame: pd.DataFrame,
) -> list[GuardrailResult]:
    results = []
    since_s = record.started_at // 1000
    for guardrail in spec.guardrails:
        for label in spec.labels:
            value = _guardrail_value(store, record, frame, guardrail, label, since_s)
            holds = None if value is None else guardrail.holds(value)
            results.append(GuardrailResult(str(guardrail), label, value, holds))
    return results


def _guardrail_value(
    store: Store,
    record: ExperimentRecord,
    frame: pd.DataFrame,
    guardrail: Guardrail,
    label: str,
    since_s: int,
) -> float | None:
    rows = frame[frame["arm"] == label] if len(frame) else frame
    if guardrail.metric in SERVING_GUARDRAILS:
        if rows.empty:
            return None
        # The serving counters are per version: every process's, errors included.
        versions = sorted({int(v) for v in rows["version"].unique()})
        served = VersionStats.merged(
            [
                payload
                for version in versions
                for payload in store.stats.read(record.deployment, "version", str(version), since_s)
            ]
        )
        if not served.requests:
            return None
        if guardrail.metric == "error_rate":
            return served.errors / served.requests
        quantile = {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99}[guardrail.metric]
        return served.latency_quantile_ms(quantile)
    values = metric_values(rows, guardrail.metric).dropna()
    return float(values.mean()) if len(values) else None


def decide(
    spec: ExperimentSpec,
    srm: stats.SampleRatio | None,
    primary: MetricResult,
    guardrails: list[GuardrailResult],
) -> Decision:
    if srm is not None and srm.flagged:
        observed = ", ".join(f"{n:,}" for n in srm.observed)
        expected = ", ".join(f"{s:.0%}" for s in srm.expected_shares)
        return Decision(
            "invalid",
            None,
            f"sample ratio mismatch: assignments {observed} against a declared "
            f"{expected} split (p = {srm.p_value:.2g} < {srm.threshold:g}); the assignment "
            "is broken, so the results are not trustworthy",
        )
    breached = [g for g in guardrails if g.holds is False and g.arm != spec.control]
    if breached:
        what = "; ".join(f"{g.arm}: {g.guardrail} (is {g.value:.4g})" for g in breached)
        return Decision("invalid", None, f"guardrail breached: {what}")
    return _decide_metric(spec, primary)


def _decide_metric(spec: ExperimentSpec, primary: MetricResult) -> Decision:
    counts = {a.arm: a.n for a in primary.arms}
    smallest = min(counts.values())
    if smallest < spec.min_samples:
        return Decision(
            "keep_running",
            None,
            f"{primary.metric}: {smallest:,} sample(s) in the smallest arm, "
            f"{spec.min_samples:,} required before deciding",
            spec.min_samples - smallest,
        )
    better = [arm for arm, v in primary.verdicts.items() if v == "better"]
    if better:
        best = max(
            better,
            key=lambda arm: _direction(
                MetricSpec(primary.metric, lower_is_better=primary.lower_is_better),
                primary.comparisons[arm].difference,
            ),
        )
        c = primary.comparisons[best]
        lift = f" ({c.relative:+.1%})" if c.relative is not None else ""
        return Decision(
            "winner",
            best,
            f"{best} beats {spec.control} on {primary.metric}: {c.difference:+.4g}{lift}, "
            f"{1 - spec.alpha:.0%} CI [{c.ci_low:+.4g}, {c.ci_high:+.4g}], p = {c.p_value:.2g}",
        )
    verdicts = set(primary.verdicts.values())
    if verdicts == {"worse"}:
        return Decision(
            "winner",
            spec.control,
            f"every treatment arm is significantly worse than {spec.control} on {primary.metric}",
        )
    if verdicts <= {"worse", "equivalent"}:
        return Decision(
            "no_difference",
            None,
            f"no arm differs from {spec.control} on {primary.metric} by the minimum effect "
            f"({spec.min_effect:.0%} relative) or more",
        )
    needed = None
    if primary.required_per_arm is not None:
        needed = max(primary.required_per_arm - smallest, 0) or None
    reason = f"{primary.metric}: not significant yet"
    early = [
        arm
        for arm, c in primary.comparisons.items()
        if c.p_value < spec.alpha and primary.verdicts[arm] == "undecided"
    ]
    if early and not spec.sequential:
        reason = (
            f"{primary.metric}: {', '.join(early)} already differs, but a fixed-horizon test "
            "is read at its planned sample size (start with --sequential to stop early)"
        )
    if needed:
        reason += f"; about {needed:,} more sample(s) per arm for {spec.power:.0%} power"
    return Decision("keep_running", None, reason, needed)


def bandit_section(
    store: Store, record: ExperimentRecord, spec: ExperimentSpec, frame: pd.DataFrame
) -> dict[str, Any]:
    """Rewards, the chance each arm is best, weights over time and the estimated regret."""
    assert spec.bandit is not None
    rewards = arm_rewards(frame, spec)
    history = store.experiments.weights(record.name)
    probability = bandit.posterior_best_probability(list(rewards.values()))
    return {
        "reward": spec.bandit.reward,
        "rewards": {
            label: {"successes": r.successes, "trials": r.trials} for label, r in rewards.items()
        },
        "probability_best": dict(zip(spec.labels, probability, strict=True)),
        "estimated_regret": bandit.estimated_regret(list(rewards.values())),
        "weights": [{"at": h.at, "weights": h.weights} for h in history],
        "min_share": spec.bandit.min_share,
    }


def arm_rewards(frame: pd.DataFrame, spec: ExperimentSpec) -> dict[str, bandit.ArmReward]:
    """Per arm: the sum of rewards (clipped to [0, 1]) and how many rows have one."""
    assert spec.bandit is not None
    values = metric_values(frame, spec.bandit.reward) if len(frame) else pd.Series(dtype=float)
    rewards = {}
    for label in spec.labels:
        arm = values[frame["arm"] == label].dropna() if len(frame) else values
        clipped = arm.clip(0.0, 1.0)
        rewards[label] = bandit.ArmReward(float(clipped.sum()), float(len(clipped)))
    return rewards


def _bandit_decision(spec: ExperimentSpec, section: dict[str, Any]) -> Decision:
    trials = {label: r["trials"] for label, r in section["rewards"].items()}
    smallest = min(trials.values())
    if smallest < spec.min_samples:
        return Decision(
            "keep_running",
            None,
            f"{int(smallest):,} rewarded sample(s) in the smallest arm, "
            f"{spec.min_samples:,} required before deciding",
            int(spec.min_samples - smallest),
        )
    best, chance = max(section["probability_best"].items(), key=lambda item: item[1])
    if chance >= 1 - spec.alpha:
        return Decision(
            "winner", best, f"{best} is the best arm with posterior probability {chance:.1%}"
        )
    return Decision(
        "keep_running",
        None,
        f"the best arm so far, {best}, is best with probability {chance:.1%} "
        f"(needs {1 - spec.alpha:.0%})",
    )


def build_report(store: Store, record: ExperimentRecord) -> ExperimentReport:
    spec = ExperimentSpec.from_dict(record.spec)
    frame = experiment_frame(store, record, spec)
    assigned = assigned_counts(frame, spec)
    shares = {a: arm.weight / 100 for a, arm in zip(spec.labels, spec.arms, strict=True)}
    metrics = tuple(evaluate_metric(frame, spec, m) for m in spec.metrics)
    guardrails = guardrail_results(store, record, spec, frame)
    section = None
    srm = None
    if spec.bandit is None:
        if sum(assigned.values()) > 0:
            srm = stats.sample_ratio_test(list(assigned.values()), list(shares.values()))
        decision = decide(spec, srm, metrics[0], guardrails)
    else:
        # Bandit weights move by design, so the assignment counts have no fixed ratio.
        section = bandit_section(store, record, spec, frame)
        decision = decide(spec, None, metrics[0], guardrails)
        if decision.verdict != "invalid":
            decision = _bandit_decision(spec, section)
    return ExperimentReport(
        name=record.name,
        deployment=record.deployment,
        status=record.status,
        started_at=record.started_at,
        started_by=record.started_by,
        stopped_at=record.stopped_at,
        control=spec.control,
        assigned=assigned,
        expected_shares=shares,
        srm=srm,
        metrics=metrics,
        guardrails=tuple(guardrails),
        decision=decision,
        sequential=spec.sequential,
        alpha=spec.alpha,
        bandit=section,
        spec=record.spec,
    )


def monitor_values(result: ExperimentReport) -> dict[str, tuple[float | None, dict[str, Any]]]:
    """What a monitor rule can alert on while an experiment runs on its deployment."""
    primary = result.metrics[0]
    p_values = [c.p_value for c in primary.comparisons.values()]
    lifts = [c.relative for c in primary.comparisons.values() if c.relative is not None]
    detail = {"experiment": result.name, "reason": result.decision.reason}
    return {
        "experiment_invalid": (float(result.decision.verdict == "invalid"), detail),
        "experiment_winner": (float(result.decision.verdict == "winner"), detail),
        "experiment_srm": (
            float(result.srm.flagged) if result.srm is not None else None,
            {"experiment": result.name},
        ),
        "experiment_guardrail_breaches": (
            float(sum(g.holds is False for g in result.guardrails)),
            {"experiment": result.name},
        ),
        "experiment_p_value": (min(p_values) if p_values else None, {"metric": primary.metric}),
        "experiment_lift": (
            max(lifts, key=abs) if lifts else None,
            {"metric": primary.metric},
        ),
    }
