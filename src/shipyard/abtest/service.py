"""A/B experiment use cases: start, report, stop, promote the winner.

Starting sets the deployment's policy (sticky ``ab`` by key, or ``bandit``) and
records the experiment in one transaction; stopping restores the policy the
experiment replaced. Promoting stops the experiment and starts a canary
rollout of the winner, so the winner still passes the rollout's live checks
before it takes all traffic; both steps are audit events under the caller's name.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shipyard.abtest.report import ExperimentReport, build_report
from shipyard.abtest.spec import ExperimentSpec, MetricSpec
from shipyard.deploy import rollouts
from shipyard.deploy.policy import (
    ABPolicy,
    BanditPolicy,
    SinglePolicy,
    policy_from_dict,
)
from shipyard.deploy.rollouts import RolloutSpec
from shipyard.errors import Conflict, InvalidInput
from shipyard.names import check_name
from shipyard.registry.uri import parse_model_spec
from shipyard.store import Store
from shipyard.store.experiment_store import ExperimentRecord
from shipyard.store.rollout_store import RolloutRecord


def start_experiment(
    store: Store, name: str, spec: ExperimentSpec, *, actor: str
) -> ExperimentRecord:
    check_name(name, "experiment")
    if len(name) > 128:
        raise InvalidInput(f"experiment name {name[:20]!r}... is longer than 128 characters")
    if spec.bandit is not None and spec.metrics[0].name != spec.bandit.reward:
        spec = replace(spec, metrics=(MetricSpec(spec.bandit.reward), *spec.metrics))
    resolved: dict[tuple[str, int], str] = {}  # every arm resolves now, each to its own version
    for label, arm in zip(spec.labels, spec.arms, strict=True):
        version = store.registry.get_version(
            arm.target.name, version=arm.target.version, alias=arm.target.alias
        )
        twin = resolved.get((version.name, version.version))
        if twin is not None:
            raise InvalidInput(
                f"arms {twin} and {label} are the same version ({version.uri}); "
                "an experiment compares different versions"
            )
        resolved[(version.name, version.version)] = label
        source, _, column = spec.key.partition(":")
        if spec.bandit is None and source == "field" and column not in version.signature.columns:
            raise InvalidInput(
                f"the A/B key field {column!r} is not an input column of {label} "
                f"(its columns: {', '.join(version.signature.columns[:10])}...)"
            )
    policy = (
        BanditPolicy(spec.arms, name)
        if spec.bandit is not None
        else ABPolicy(spec.arms, spec.key, salt=f"{name}:")
    )
    return store.experiments.start(
        name, spec.deployment, spec.to_dict(), policy.to_dict(), actor=actor
    )


def report(store: Store, name: str) -> ExperimentReport:
    return build_report(store, store.experiments.get(name))


def _summary(result: ExperimentReport, reason: str) -> dict[str, Any]:
    return {
        "verdict": result.decision.verdict,
        "winner": result.decision.winner,
        "reason": reason or result.decision.reason,
        "assigned": result.assigned,
    }


def stop_experiment(store: Store, name: str, *, actor: str, reason: str = "") -> ExperimentRecord:
    """End the experiment; the deployment returns to the policy it had before."""
    record = store.experiments.get(name)
    result = build_report(store, record) if record.status == "running" else None
    outcome = _summary(result, reason) if result is not None else {"reason": reason}
    return store.experiments.stop(name, actor=actor, outcome=outcome)


def promote_winner(
    store: Store, name: str, *, actor: str, rollout: RolloutSpec | None = None
) -> tuple[ExperimentReport, RolloutRecord | None]:
    """Stop the experiment and roll its winner out (a canary rollout with live checks).

    Refused unless the report names a winner. When the winner is the control, the
    experiment stops and nothing is rolled out: the deployment keeps what it served.
    """
    record = store.experiments.get(name)
    if record.status != "running":
        raise Conflict(f"experiment {name!r} is {record.status}; only a running one is promoted")
    result = build_report(store, record)
    decision = result.decision
    if decision.verdict != "winner" or decision.winner is None:
        raise Conflict(
            f"experiment {name!r} has no winner to promote ({decision.verdict}: {decision.reason})"
        )
    original = policy_from_dict(record.original_policy)
    winner = decision.winner
    if winner == result.control:
        store.experiments.stop(
            name, actor=actor, outcome=_summary(result, ""), action="experiment.promote"
        )
        return result, None
    if not isinstance(original, SinglePolicy):
        raise Conflict(
            f"deployment {record.deployment!r} served a {original.kind} policy before the "
            "experiment; a rollout starts from a single version, so promote by hand"
        )
    target = parse_model_spec(winner)
    serving = store.registry.get_version(
        original.target.name, version=original.target.version, alias=original.target.alias
    )
    winning = store.registry.get_version(target.name, version=target.version, alias=target.alias)
    if (serving.name, serving.version) == (winning.name, winning.version):
        # What the deployment served before is the winner already: nothing to roll out.
        store.experiments.stop(
            name, actor=actor, outcome=_summary(result, ""), action="experiment.promote"
        )
        return result, None
    spec = RolloutSpec.from_dict({**(rollout.to_dict() if rollout else {}), "to": winner})
    store.experiments.stop(
        name,
        actor=actor,
        outcome={**_summary(result, ""), "rollout_to": winner},
        action="experiment.promote",
    )
    started = rollouts.start_rollout(store, record.deployment, spec, actor=actor)
    return result, started
