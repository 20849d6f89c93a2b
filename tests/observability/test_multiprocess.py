"""With several workers, /metrics adds only the collectors every worker answers alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import Client
from shipyard.config import ServerSettings
from shipyard.server.app import _metrics_payload
from shipyard.serving.core import ServingCore
from shipyard.store.rollout_store import RolloutRecord


def test_routing_gauges_are_exported_and_per_process_counters_are_not(
    sqlite_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = ServingCore.build(sqlite_client.store, ServerSettings())
    core.routing.rollouts["fraud"] = RolloutRecord(
        1, "fraud", "paused", {"steps": [5, 25]}, 1, 2, {}, 1, 1_700_000_000_000, "", "t", 0, 0
    )
    core.dataplane.stats.pair("fraud", 2, 1).record([1], [1], None, None)
    single = _metrics_payload(core.metrics).decode()
    assert "shipyard_mirror_comparisons_total" in single
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    merged = _metrics_payload(core.metrics).decode()
    assert (
        'shipyard_rollout_step_percent{deployment="fraud",status="paused",version="2"} 25.0'
        in merged
    )
    assert "shipyard_mirror_comparisons" not in merged  # one worker's share would mislead
    assert "shipyard_prediction_log_records" not in merged
