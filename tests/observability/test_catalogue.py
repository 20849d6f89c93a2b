"""The metric catalogue is what the code registers: names, kinds and label names.

The dashboard and the rules are generated from the catalogue, so this test is
what keeps them pointing at metrics that exist. Each exporter is built on one
registry, as a server (serving core + batch) and a stream consumer build them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from shipyard import Client
from shipyard.batch.metrics import BatchMetrics
from shipyard.config import ServerSettings
from shipyard.serving.collectors import route_weights
from shipyard.serving.core import ServingCore
from shipyard.serving.metric_catalogue import BY_NAME, METRICS
from shipyard.serving.stream.metrics import StreamMetrics
from shipyard.store.rollout_store import RolloutRecord


def _registered(sqlite_client: Client) -> CollectorRegistry:
    core = ServingCore.build(sqlite_client.store, ServerSettings())
    metrics = core.metrics
    metrics.watch_monitors({("m", "fraud", "drift_share"): 0.25})
    exporters: list[object] = [
        metrics,
        BatchMetrics(metrics.registry),
        StreamMetrics(metrics.registry, "orders", "scorers"),
    ]
    # one child per labelled metric: a wrong label count raises here
    for exporter in exporters:
        for value in vars(exporter).values():
            # a labelled parent, not a cached child
            if (
                isinstance(value, MetricWrapperBase)
                and value._labelnames
                and not value._labelvalues
            ):
                value.labels(*["x"] * len(value._labelnames))
    core.dataplane.stats.pair("fraud", 2, 1).record([1, 0], [1, 1], None, None)
    core.routing.rollouts["fraud"] = RolloutRecord(
        1, "fraud", "running", {"steps": [5, 25]}, 1, 2, {}, 0, 1_700_000_000_000, "", "t", 0, 0
    )
    return metrics.registry


def test_every_registered_metric_is_declared_with_its_kind(sqlite_client: Client) -> None:
    registry = _registered(sqlite_client)
    registered = {(m.name, m.type) for m in registry.collect()}
    assert registered == {(m.name, m.kind) for m in METRICS}


def test_every_sample_carries_the_declared_labels(sqlite_client: Client) -> None:
    text = generate_latest(_registered(sqlite_client)).decode()
    seen = set()
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created"):  # creation times prometheus_client adds
            continue
        declared = BY_NAME[family.name]
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == set(declared.labels), sample
            seen.add(family.name)
    missing = {m.name for m in METRICS} - seen
    # a route needs loaded models: the live-server test has samples of it
    assert missing == {"shipyard_route_weight_percent"}
    assert 'shipyard_mirror_comparisons_total{baseline="1",deployment="fraud",' in text
    assert "shipyard_rollout_step_started_timestamp_seconds" in text


def test_route_weights_follow_each_policy() -> None:
    from shipyard.deploy.policy import policy_from_dict

    shadow = policy_from_dict(
        {"kind": "shadow", "primary": {"model": "m", "version": 1},
         "shadows": [{"model": "m", "version": 2}]}
    )  # fmt: skip
    canary = policy_from_dict(
        {"kind": "canary", "arms": [{"model": "m", "version": 1, "weight": 90},
                                    {"model": "m", "version": 2, "weight": 10}]}
    )  # fmt: skip
    assert route_weights(shadow) == [100.0, 0.0]
    assert route_weights(canary) == [90, 10]
