"""Experiments and outcome feedback on both metadata back ends (SQLite and PostgreSQL):
the merge of outcomes, the one-running-experiment rule, the policy swap and restore,
and the bandit's weight history with its thinning."""

from __future__ import annotations

import pytest

from shipyard import Client
from shipyard.errors import Conflict
from shipyard.store import experiment_store


def test_experiments_and_outcomes_on_each_back_end(
    client: Client, fitted_pipeline, breast_cancer, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, _ = breast_cancer
    for _ in range(2):
        client.register_model(fitted_pipeline, name="m", sample_input=X[:20])
    client.create_deployment("d", "m/1")

    client.add_feedback("d", [{"request_id": f"r{i}", "outcome": {"a": i}} for i in range(3)])
    client.add_feedback(
        "d",
        [{"request_id": "r1", "label": 1, "outcome": {"b": 2}}, {"request_id": "r9", "label": 0}],
    )
    rows = {r.request_id: r for r in client.store.feedback.all_for("d")}
    assert rows["r1"].outcome == {"a": 1.0, "b": 2.0} and rows["r1"].label == 1
    assert rows["r0"].outcome == {"a": 0.0} and rows["r0"].label is None
    assert rows["r9"].outcome is None and rows["r9"].label == 0

    before = client.get_deployment("d").policy
    client.ab_start("e1", deployment="d", arms="m/1,m/2", metrics=["accuracy"], bandit=True,
                    reward="outcome.a")  # fmt: skip
    with pytest.raises(Conflict):
        client.ab_start("e2", deployment="d", arms="m/1,m/2", metrics=["accuracy"])
    with pytest.raises(Conflict, match="exists already"):
        client.ab_start("e1", deployment="d", arms="m/1,m/2", metrics=["accuracy"])
    assert client.get_deployment("d").policy["kind"] == "bandit"

    monkeypatch.setattr(experiment_store, "HISTORY_LIMIT", 3)
    revision = client.store.deployments.revision()
    for step in range(5):
        policy = {**client.get_deployment("d").policy}
        policy["arms"] = [
            {**policy["arms"][0], "weight": 50 + step},
            {**policy["arms"][1], "weight": 50 - step},
        ]
        assert client.store.experiments.record_weights(
            "e1", {"m/1": 0.5 + step / 100, "m/2": 0.5 - step / 100}, {}, policy
        )
    history = client.store.experiments.weights("e1")
    assert [h.weights["m/1"] for h in history] == [0.52, 0.53, 0.54]  # the newest three
    assert client.store.deployments.revision() > revision  # the routers will see it
    assert client.get_deployment("d").policy["arms"][0]["weight"] == 54

    stopped = client.ab_stop("e1")
    assert stopped.status == "stopped" and client.get_deployment("d").policy == before
    assert not client.store.experiments.record_weights("e1", {}, {}, None)  # stopped: no write
    assert [r.name for r in client.ab_list(status="stopped")] == ["e1"]
