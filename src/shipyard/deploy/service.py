"""Creating and changing deployments; targets are checked against the registry first."""

from __future__ import annotations

from shipyard.deploy.policy import (
    BanditPolicy,
    BlueGreenPolicy,
    Policy,
    ServingConfig,
    policy_from_dict,
)
from shipyard.entities import Deployment
from shipyard.errors import Conflict
from shipyard.names import check_name
from shipyard.store import Store


def create_deployment(
    store: Store,
    name: str,
    policy: Policy,
    config: ServingConfig,
    *,
    description: str = "",
    actor: str,
) -> Deployment:
    check_name(name, "deployment")
    _refuse_bandit(policy)
    _check_targets(store, policy)
    return store.deployments.create(
        name, policy.to_dict(), config.to_dict(), description, actor=actor
    )


def update_deployment(
    store: Store,
    name: str,
    *,
    policy: Policy | None = None,
    config: ServingConfig | None = None,
    description: str | None = None,
    actor: str,
) -> Deployment:
    if policy is not None:
        _refuse_bandit(policy)
        _check_targets(store, policy)
        _refuse_during_rollout(store, name)
    return store.deployments.update(
        name,
        policy=policy.to_dict() if policy else None,
        config=config.to_dict() if config else None,
        description=description,
        actor=actor,
    )


def switch_blue_green(store: Store, name: str, *, actor: str) -> Deployment:
    """Move all traffic to the other colour (both are loaded and warm already)."""
    current = policy_from_dict(store.deployments.get(name).policy)
    if not isinstance(current, BlueGreenPolicy):
        raise Conflict(f"deployment {name!r} has a {current.kind} policy, not blue-green")
    _refuse_during_rollout(store, name)
    return store.deployments.update(name, policy=current.switched().to_dict(), actor=actor)


def _refuse_during_rollout(store: Store, name: str) -> None:
    """A rollout or an experiment owns the policy while it runs."""
    latest = store.rollouts.latest_for(name)
    if latest is not None and latest.status in ("running", "paused"):
        raise Conflict(
            f"deployment {name!r} is in rollout {latest.id} ({latest.status}); "
            "pause, promote or abort it before changing the policy by hand"
        )
    experiment = store.experiments.running_for(name)
    if experiment is not None:
        raise Conflict(
            f"deployment {name!r} runs A/B experiment {experiment.name!r}; "
            f"stop it (`shipyard ab stop {experiment.name}`) before changing the policy by hand"
        )


def _refuse_bandit(policy: Policy) -> None:
    if isinstance(policy, BanditPolicy):
        raise Conflict(
            "a bandit policy is set by its experiment: use `shipyard ab start NAME --bandit`"
        )


def _check_targets(store: Store, policy: Policy) -> None:
    """Every target must resolve now (unknown model/version/alias raises ModelNotFound)."""
    for ref in policy.targets:
        store.registry.get_version(ref.name, version=ref.version, alias=ref.alias)
