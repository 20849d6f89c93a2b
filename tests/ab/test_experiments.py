"""Experiments over a real store and prediction log: the report's checks and decisions,
who owns the policy while one runs, the monitor rule on a result, and the bandit's
controller moving weights from fed-back rewards."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from shipyard import Client
from shipyard.abtest.controller import ArmLedger, update_weights
from shipyard.abtest.report import evaluate_metric, experiment_frame
from shipyard.abtest.spec import ExperimentSpec, MetricSpec
from shipyard.config import StoreSettings
from shipyard.deploy.policy import policy_from_dict, single
from shipyard.deploy.rollouts import RolloutSpec
from shipyard.errors import Conflict, InvalidInput
from shipyard.monitoring.monitors import MonitorSpec, run_monitor
from shipyard.monitoring.predlog import PredictionLogger
from shipyard.serving.traffic import Route


@pytest.fixture
def ws(tmp_path: Path, fitted_pipeline, breast_cancer) -> Iterator[Client]:
    X, _ = breast_cancer
    with Client(settings=StoreSettings(home=tmp_path / "ws", user="tester")) as client:
        for _ in range(3):
            client.register_model(fitted_pipeline, name="m", sample_input=X[:20])
        client.create_deployment("d", "m/1")
        yield client


def _serve_row(
    logger: PredictionLogger, label: str, request: str, pre: float = 0.0, unit: str | None = None
) -> None:
    """One answered row of arm ``label`` (``m/<version>``), as the data plane logs it."""
    logger.log("d", int(label[2:]), label, request, 0.001, ("pre",), np.array([[pre]]),
               np.array([1]), np.array([[0.2, 0.8]]), unit=unit)  # fmt: skip


def _log(
    client: Client,
    arms: dict[str, int],
    *,
    outcome: dict[str, float] | None = None,
    pre_effect: float = 0.0,
    seed: int = 0,
) -> None:
    """Serve ``count`` rows per arm label through the real prediction logger, and feed
    back a ``value`` outcome ~ N(mean + pre, 1) with a pre-period ``in.pre`` column."""
    rng = np.random.default_rng(seed)
    logger = PredictionLogger(client.store.artifacts)
    feedback = []
    for label, count in arms.items():
        for i in range(count):
            request = f"{label}-{i}"
            pre = float(rng.normal())
            _serve_row(logger, label, request, pre)
            if outcome is not None:
                value = outcome[label] + pre_effect * pre + float(rng.normal())
                feedback.append({"request_id": request, "outcome": {"value": value}})
    logger.flush()
    for start in range(0, len(feedback), 5000):
        client.add_feedback("d", feedback[start : start + 5000])


def test_a_planted_45_55_split_is_flagged_and_the_result_untrustworthy(ws: Client) -> None:
    ws.ab_start(
        "srm", deployment="d", arms="m/1=50,m/2=50", metrics=["outcome.value"], min_samples=100
    )
    _log(ws, {"m/1": 4_500, "m/2": 5_500}, outcome={"m/1": 0.0, "m/2": 0.5})
    report = ws.ab_report("srm")
    assert report.srm is not None and report.srm.flagged
    assert report.decision.verdict == "invalid" and not report.trustworthy
    assert "sample ratio mismatch" in report.decision.reason
    ws.ab_stop("srm")
    ws.ab_start(
        "fair",
        deployment="d",
        arms="m/1=50,m/2=50",
        metrics=["outcome.value"],
        min_samples=100,
        min_effect=0.2,
    )
    _log(ws, {"m/1": 5_000, "m/2": 5_000}, outcome={"m/1": 1.0, "m/2": 1.5}, seed=1)
    fair = ws.ab_report("fair")
    assert fair.srm is not None and not fair.srm.flagged
    assert fair.decision.verdict == "winner" and fair.decision.winner == "m/2"


def test_a_breached_guardrail_invalidates_and_cuped_narrows_the_interval(ws: Client) -> None:
    ws.ab_start(
        "g",
        deployment="d",
        arms="m/1,m/2",
        metrics=["outcome.value:mean"],
        guardrails=["outcome.value<=0.3"],
        pre={"outcome.value": "in.pre"},
        min_samples=100,
    )
    _log(ws, {"m/1": 2_000, "m/2": 2_000}, outcome={"m/1": 0.0, "m/2": 0.5}, pre_effect=2.0)
    report = ws.ab_report("g")
    assert report.decision.verdict == "invalid"
    assert "m/2: outcome.value<=0.3" in report.decision.reason
    adjusted = report.metrics[0].comparisons["m/2"]
    assert adjusted.cuped
    record = ws.ab_status("g")
    spec = ExperimentSpec.from_dict(record.spec)
    frame = experiment_frame(ws.store, record, spec)  # the same rows, without the covariate
    plain = evaluate_metric(frame, spec, MetricSpec("outcome.value", "mean")).comparisons["m/2"]
    assert not plain.cuped
    assert (adjusted.ci_high - adjusted.ci_low) < 0.6 * (plain.ci_high - plain.ci_low)
    assert adjusted.ci_low < 0.5 < adjusted.ci_high


def test_below_the_planned_sample_it_keeps_running_and_says_how_many_more(ws: Client) -> None:
    ws.ab_start(
        "small",
        deployment="d",
        arms="m/1,m/2",
        metrics=["outcome.value"],
        min_samples=50,
        min_effect=0.02,
    )
    _log(ws, {"m/1": 300, "m/2": 300}, outcome={"m/1": 10.0, "m/2": 10.0})
    report = ws.ab_report("small")
    required = report.metrics[0].required_per_arm  # 2 x 7.85 x var 1 / 0.2^2 ~ 392
    assert required is not None and 350 < required < 450
    assert report.decision.verdict == "keep_running"
    assert report.decision.samples_needed == required - 300
    assert f"about {required - 300:,} more" in report.decision.reason


def test_an_experiment_owns_the_policy_until_it_stops(ws: Client) -> None:
    before = ws.get_deployment("d").policy
    ws.set_alias("m", "twin", 1)
    ws.ab_start("own", deployment="d", arms="m/1=70,m/2=30", metrics=["accuracy"])
    policy = policy_from_dict(ws.get_deployment("d").policy)
    assert policy.kind == "ab" and [a.weight for a in policy.arms] == [70, 30]  # type: ignore[union-attr]
    with pytest.raises(Conflict, match="runs A/B experiment 'own'"):
        ws.set_policy("d", single("m/3"))
    with pytest.raises(Conflict, match="already runs experiment 'own'"):
        ws.ab_start("two", deployment="d", arms="m/1,m/3", metrics=["accuracy"])
    with pytest.raises(Conflict, match="ab policy"):
        ws.start_rollout("d", RolloutSpec(to="m/2"))
    with pytest.raises(Conflict, match="no winner"):
        ws.ab_promote("own")
    stopped = ws.ab_stop("own", reason="done")
    assert stopped.status == "stopped" and stopped.outcome["reason"] == "done"  # type: ignore[index]
    assert ws.get_deployment("d").policy == before
    with pytest.raises(Conflict, match="stopped already"):
        ws.ab_stop("own")
    for bad, message in [
        ({"arms": "m/1"}, "at least two arms"),
        ({"arms": "m/1,m/9"}, "m"),
        ({"arms": "m/1,m@twin"}, "are the same version"),
        ({"key": "field:user"}, "key field 'user' is not an input column of m/1"),
        ({"metrics": ["clicks"]}, "unknown metric 'clicks'"),
        ({"metrics": []}, "at least one --metric"),
        ({"guardrails": ["p99 < fast"]}, "cannot read guardrail"),
        ({"bandit": True}, "needs a reward"),
        ({"bandit": True, "reward": "accuracy"}, "reward is a business outcome"),
    ]:
        arguments = {"deployment": "d", "arms": "m/1,m/2", "metrics": ["accuracy"], **bad}
        with pytest.raises((InvalidInput, Exception), match=message):
            ws.ab_start("bad", **arguments)  # type: ignore[arg-type]


def test_a_monitor_rule_fires_on_an_invalid_experiment(ws: Client) -> None:
    ws.ab_start(
        "watched", deployment="d", arms="m/1,m/2", metrics=["outcome.value"], min_samples=10
    )
    _log(ws, {"m/1": 4_500, "m/2": 5_500}, outcome={"m/1": 0.0, "m/2": 0.0})
    ws.create_monitor(
        "ab-watch",
        MonitorSpec.from_dict(
            {"deployment": "d", "rules": ["experiment_invalid >= 1", "experiment_srm >= 1"]}
        ),
    )
    values = run_monitor(ws.store, "ab-watch")
    assert values["experiment_invalid"] == 1.0 and values["experiment_srm"] == 1.0
    fired = {a.rule for a in ws.alerts(monitor="ab-watch") if a.status == "firing"}
    assert fired == {"experiment_invalid", "experiment_srm"}


def test_the_bandit_controller_moves_weight_to_the_best_arm_and_keeps_the_floor(
    ws: Client,
) -> None:
    ws.ab_start(
        "bandit",
        deployment="d",
        arms="m/1,m/2,m/3",
        bandit=True,
        reward="outcome.clicked",
        min_share=0.05,
        max_step=0.2,
    )
    policy = policy_from_dict(ws.get_deployment("d").policy)
    assert policy.kind == "bandit"
    assert [round(a.weight, 3) for a in policy.arms] == [33.333] * 3  # type: ignore[union-attr]
    rates = {"m/1": 0.05, "m/2": 0.10, "m/3": 0.30}
    rng = np.random.default_rng(3)
    ledger = ArmLedger()
    for round_ in range(6):
        logger = PredictionLogger(ws.store.artifacts)
        current = policy_from_dict(ws.get_deployment("d").policy)
        shares = {f"m/{a.target.version}": a.weight / 100 for a in current.arms}  # type: ignore[union-attr]
        feedback = []
        for label, share in shares.items():
            for i in range(int(1_000 * share)):
                request = f"{round_}-{label}-{i}"
                _serve_row(logger, label, request)
                feedback.append(
                    {
                        "request_id": request,
                        "outcome": {"clicked": int(rng.random() < rates[label])},
                    }
                )
        logger.flush()
        ws.add_feedback("d", feedback)
        weights = update_weights(
            ws.store, ws.ab_status("bandit"), ledger, np.random.default_rng(round_)
        )
        assert weights is not None
        assert min(weights.values()) >= 0.05 - 1e-9  # the exploration floor
        assert abs(sum(weights.values()) - 1) < 1e-6
    assert max(weights, key=weights.__getitem__) == "m/3" and weights["m/3"] > 0.8
    history = ws.store.experiments.weights("bandit")
    assert len(history) == 6
    moves = [
        max(abs(a.weights[k] - b.weights[k]) for k in a.weights)
        for a, b in itertools.pairwise(history)
    ]
    assert max(moves) <= 0.2 + 1e-6  # one update moves a weight at most max_step
    # The routing table routes by the weights the controller wrote.
    route = Route.build(
        ws.get_deployment("d"), policy_from_dict(ws.get_deployment("d").policy), ("a", "b", "c")
    )  # type: ignore[arg-type]
    picks = Counter(route.pick(None) for _ in range(20_000))
    assert abs(picks[2] / 20_000 - weights["m/3"]) < 0.02
    report = ws.ab_report("bandit")
    assert report.bandit is not None and len(report.bandit["weights"]) == 6
    assert report.bandit["estimated_regret"] > 0
    assert report.bandit["probability_best"]["m/3"] > 0.95
    assert report.decision.verdict in ("winner", "keep_running")
    with pytest.raises(Conflict, match="bandit policy is set by its experiment"):
        ws.set_policy("d", policy_from_dict({**ws.get_deployment("d").policy}))
    ws.ab_stop("bandit")
    assert ws.get_deployment("d").policy["kind"] == "single"


def test_users_count_once_so_a_more_engaged_arm_is_no_sample_ratio_mismatch(ws: Client) -> None:
    """Sticky by user: the treatment's users send three requests each, the control's one.
    By rows that is 1:3 (a mismatch); by users, the unit of assignment, it is 1:1."""
    ws.ab_start(
        "engaged",
        deployment="d",
        arms="m/1,m/2",
        metrics=["outcome.value"],
        key="header:X-User",
        min_samples=10,
    )
    logger = PredictionLogger(ws.store.artifacts)
    feedback = []
    for user in range(2_000):
        label, requests = ("m/1", 1) if user % 2 == 0 else ("m/2", 3)
        for i in range(requests):
            request = f"u{user}-{i}"
            _serve_row(logger, label, request, unit=f"user-{user}")
            feedback.append({"request_id": request, "outcome": {"value": float(i)}})
    logger.flush()
    ws.add_feedback("d", feedback)
    report = ws.ab_report("engaged")
    assert report.assigned == {"m/1": 1_000, "m/2": 1_000}
    assert report.srm is not None and not report.srm.flagged
    [value] = report.metrics
    assert [a.n for a in value.arms] == [1_000, 1_000]
    assert [a.mean for a in value.arms] == [0.0, 1.0]  # a user's value is their rows' mean
    logged = ws.predictions("d")
    assert logged["unit"].str.len().eq(16).all() and "user-1" not in set(logged["unit"])


def test_each_experiment_salts_the_assignment_so_treatments_do_not_repeat(ws: Client) -> None:
    """Sticky within an experiment; across two experiments the same users are reshuffled
    (unsalted, every 50/50 split would put the same users in treatment every time)."""
    keys = [f"user-{i}" for i in range(10_000)]
    picks = []
    for name in ("first", "second"):
        ws.ab_start(name, deployment="d", arms="m/1,m/2", metrics=["accuracy"])
        deployment = ws.get_deployment("d")
        policy = policy_from_dict(deployment.policy)
        assert policy.salt == f"{name}:"  # type: ignore[union-attr]
        route = Route.build(deployment, policy, ("a", "b"))  # type: ignore[arg-type]
        assignment = [route.pick(k) for k in keys]
        assert assignment == [route.pick(k) for k in keys]  # sticky
        assert 0.47 < sum(assignment) / len(keys) < 0.53
        picks.append(assignment)
        ws.ab_stop(name)
    same = sum(a == b for a, b in zip(*picks, strict=True)) / len(keys)
    assert 0.47 < same < 0.53  # independent, not the same users again
