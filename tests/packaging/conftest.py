"""Manifests for a deployment entity (no store needed) under the option sets that
produce every kind of object ``shipyard k8s`` writes."""

from __future__ import annotations

from typing import Any

import pytest

from shipyard.entities import Deployment
from shipyard.packaging.k8s import Manifest, build_manifests
from shipyard.packaging.k8s_options import K8sOptions

#: Each object kind appears in at least one set; together they cover every branch.
OPTION_SETS: dict[str, K8sOptions] = {
    "default": K8sOptions(),
    "full": K8sOptions(
        replicas=3,
        max_replicas=9,
        namespace="ml",
        service_monitor=True,
        stream="orders",
        stream_replicas=2,
        artifacts_url="s3://bucket/shipyard",
        encryption_secret="shipyard-key",
    ),
    "kserve": K8sOptions(
        kserve=True, stream="orders", stream_group="scorers", encryption_secret="shipyard-key"
    ),
    "closed-metrics": K8sOptions(open_metrics=False, service_monitor=True, worker=False),
    "no-extras": K8sOptions(worker=False, batch=False, replicas=1),
}


def deployment(name: str = "fraud") -> Deployment:
    return Deployment(
        name=name,
        policy={"kind": "single", "target": {"model": "fraud", "alias": "champion"}},
        config={},
        description="",
        created_at=0,
        updated_at=0,
    )


@pytest.fixture(scope="session")
def manifest_sets() -> dict[str, list[Manifest]]:
    return {key: build_manifests(deployment(), options) for key, options in OPTION_SETS.items()}


def by_kind(manifests: list[Manifest], kind: str) -> list[dict[str, Any]]:
    return [m.obj for m in manifests if m.kind == kind]
