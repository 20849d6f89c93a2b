"""Rollout state on /metrics comes from the routing table, which follows the store."""

from __future__ import annotations

import asyncio

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shipyard import Client
from shipyard.config import ServerSettings
from shipyard.deploy.rollouts import RolloutSpec
from shipyard.serving.core import ServingCore


def test_route_weights_and_rollout_status_follow_the_store(
    sqlite_client: Client, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    client = sqlite_client
    client.register_model(fitted_pipeline, name="cancer", sample_input=X[:20])
    client.register_model(fitted_pipeline, name="cancer", sample_input=X[:20])
    client.create_deployment("rolling", "cancer/1")
    rollout = client.start_rollout("rolling", RolloutSpec(to="cancer/2", steps=(10, 100)))
    core = ServingCore.build(client.store, ServerSettings(prediction_log=False))
    try:
        _check(client, core, rollout.step_started_at)
    finally:
        asyncio.run(core.routing.close())  # the loaded models' batch threads


def _check(client: Client, core: ServingCore, step_started_at: int) -> None:
    core.routing.load_initial()
    text = generate_latest(core.metrics.registry).decode()
    assert 'shipyard_route_weight_percent{deployment="rolling",version="1"} 90.0' in text
    assert 'shipyard_route_weight_percent{deployment="rolling",version="2"} 10.0' in text
    assert (
        'shipyard_rollout_step_percent{deployment="rolling",status="running",version="2"} 10.0'
        in text
    )
    (family,) = [
        f
        for f in text_string_to_metric_families(text)
        if f.name == "shipyard_rollout_step_started_timestamp_seconds"
    ]
    (sample,) = family.samples
    assert sample.labels == {"deployment": "rolling", "status": "running"}
    assert sample.value == step_started_at / 1000

    revision = client.store.deployments.revision()
    client.pause_rollout("rolling")
    assert client.store.deployments.revision() > revision  # the routing tables rebuild
    core.routing.load_initial()
    text = generate_latest(core.metrics.registry).decode()
    assert 'status="paused"' in text and 'status="running"' not in text

    client.abort_rollout("rolling")
    core.routing.load_initial()
    text = generate_latest(core.metrics.registry).decode()
    assert "shipyard_rollout_step_percent{" not in text  # no active rollout, no series
    assert 'shipyard_route_weight_percent{deployment="rolling",version="1"} 100.0' in text
