"""``shipyard_monitor_value`` comes from the process that runs the monitors, and only it."""

from __future__ import annotations

from shipyard import Client
from shipyard.monitoring.monitors import LEASE, MonitorRunner


def test_values_carry_the_deployment_and_leave_with_the_lease_or_the_monitor(
    sqlite_client: Client, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    client = sqlite_client
    client.register_model(fitted_pipeline, name="cancer", sample_input=X[:20])
    client.create_deployment("fraud", "cancer/1")
    client.create_monitor("m", {"deployment": "fraud", "interval_s": 60})
    client.create_monitor("gone", {"deployment": "fraud", "interval_s": 60})
    runner = MonitorRunner(client.store, "process-a", tick_s=1)
    runner.tick()
    assert runner.leading
    assert runner.latest[("m", "fraud", "rows")] == 0.0  # nothing served yet
    assert ("gone", "fraud", "rows") in runner.latest

    client.delete_monitor("gone")
    runner.tick()
    assert {key[0] for key in runner.latest} == {"m"}

    client.store.leases.release(LEASE, "process-a")
    assert client.store.leases.acquire(LEASE, "process-b", 60)
    runner.tick()
    assert not runner.leading and runner.latest == {}
