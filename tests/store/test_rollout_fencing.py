"""A controller's rollout decision is fenced by its lease (SQLite and PostgreSQL).

Two replicas run the rollout controller; the lease picks one. A holder that
stalled past its lease time (GC pause, frozen VM) would otherwise apply a
decision beside the replica that took over: the transition re-checks the
lease in its own transaction and records who decided.
"""

from __future__ import annotations

import time

import pytest

from shipyard import Client
from shipyard.deploy.rollouts import LEASE, RolloutSpec, evaluate
from shipyard.errors import Conflict


@pytest.fixture
def rollout(client: Client, fitted_pipeline, breast_cancer) -> Client:
    X, _ = breast_cancer
    client.register_model(fitted_pipeline, name="m", sample_input=X[:5])
    client.register_model(fitted_pipeline, name="m", sample_input=X[:5])
    client.set_alias("m", "champion", 1)
    client.create_deployment("d", "m@champion")
    client.start_rollout(
        "d", RolloutSpec(to="m/2", steps=(50, 100), interval_s=0.01, deadline_s=0.01)
    )
    return client


def test_a_decision_needs_the_lease_and_records_its_holder(rollout: Client) -> None:
    store = rollout.store
    record = rollout.rollout("d")
    assert store.leases.acquire(LEASE, "replica-a", 30)
    with pytest.raises(Conflict, match="no longer held by replica-b"):
        store.rollouts.transition(
            record.id,
            kind="pause",
            actor="c",
            status="paused",
            details={},
            lease=(LEASE, "replica-b"),
        )
    assert rollout.rollout("d").status == "running"
    store.rollouts.transition(
        record.id, kind="pause", actor="c", status="paused", details={}, lease=(LEASE, "replica-a")
    )
    assert rollout.rollout_events(record.id)[-1].details["holder"] == "replica-a"


def test_an_expired_holder_cannot_decide(rollout: Client) -> None:
    """No traffic past the deadline means roll back; only the lease's holder may."""
    store = rollout.store
    time.sleep(0.05)
    assert store.leases.acquire(LEASE, "stalled", 30)
    store.leases.release(LEASE, "stalled")  # its time ran out (expires_at in the past)
    with pytest.raises(Conflict):
        evaluate(store, rollout.rollout("d"), holder="stalled")
    assert [e.kind for e in rollout.rollout_events(rollout.rollout("d").id)] == ["start"]
    assert store.leases.acquire(LEASE, "successor", 30)
    decision, _ = evaluate(store, rollout.rollout("d"), holder="successor")
    assert decision == "rolled_back"
    assert rollout.rollout_events(rollout.rollout("d").id)[-1].details["holder"] == "successor"
