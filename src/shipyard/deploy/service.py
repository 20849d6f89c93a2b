"""Creating and changing deployments; targets are checked against the registry first."""

from __future__ import annotations

from shipyard.deploy.policy import Policy, ServingConfig
from shipyard.entities import Deployment
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
        _check_targets(store, policy)
    return store.deployments.update(
        name,
        policy=policy.to_dict() if policy else None,
        config=config.to_dict() if config else None,
        description=description,
        actor=actor,
    )


def _check_targets(store: Store, policy: Policy) -> None:
    """Every target must resolve now (unknown model/version/alias raises ModelNotFound)."""
    for ref in policy.targets:
        store.registry.get_version(ref.name, version=ref.version, alias=ref.alias)
