"""Rollouts end to end in-process: promote a good version, roll back a bad one."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from shipyard import Client, InvalidInput
from shipyard.config import ServerSettings
from shipyard.deploy.analysis import Thresholds, js_distance
from shipyard.deploy.rollouts import RolloutSpec, parse_duration
from shipyard.errors import Conflict
from shipyard.server.app import create_app
from tests.conftest import bearer

FAST = ServerSettings(poll_interval_s=0.05, stats_flush_s=0.1, controller_tick_s=0.1)


@pytest.fixture
def versions(workspace: Client, breast_cancer) -> Client:
    """cancer v3: a close sibling of v1 (good); v4: trained on inverted labels (bad)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = breast_cancer
    # Same recipe on 95% of the rows: a retrain that behaves like v1.
    good = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[:540], y[:540])
    bad = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, 1 - y)
    workspace.register_model(good, name="cancer", sample_input=X[:50])
    workspace.register_model(bad, name="cancer", sample_input=X[:50])
    return workspace


class Traffic:
    """Background request loop against the in-process server, counting outcomes."""

    def __init__(self, server: TestClient, rows: list[dict], threads: int = 4) -> None:
        self.server = server
        self.rows = rows
        self.statuses: Counter = Counter()
        self.versions: Counter = Counter()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(threads)
        ]

    def _loop(self, seed: int) -> None:
        i = seed
        while not self._stop.is_set():
            row = self.rows[i % len(self.rows)]
            i += 7
            response = self.server.post("/v1/deployments/cancer/predict", json={"inputs": [row]})
            self.statuses[response.status_code] += 1
            if response.status_code == 200:
                self.versions[response.json()["version"]] += 1

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


def _wait_for_status(client: Client, wanted: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.rollout("cancer").status
        if status in wanted:
            return status
        time.sleep(0.1)
    raise AssertionError(f"rollout still {client.rollout('cancer').status} after {timeout} s")


@pytest.fixture
def served(versions: Client) -> Iterator[TestClient]:
    with TestClient(create_app(FAST, client=versions), headers=bearer(versions)) as server:
        yield server


def _spec(to: str, **overrides) -> RolloutSpec:
    thresholds = Thresholds(
        min_requests=20,
        min_compared=20,
        min_divergence_samples=60,
        max_divergence=0.35,
        p99_margin_ms=250,
        min_latency_samples=50,
    )
    return RolloutSpec(
        to=to,
        steps=(20, 50, 100),
        interval_s=1.0,
        deadline_s=30,
        thresholds=thresholds,
        **overrides,
    )


def test_a_good_version_is_promoted_and_a_bad_one_rolled_back(
    served: TestClient, versions: Client, breast_cancer
) -> None:
    X, _ = breast_cancer
    rows = X.to_dict(orient="records")
    with Traffic(served, rows) as traffic:
        versions.start_rollout("cancer", _spec("cancer/3"))
        status = _wait_for_status(versions, {"promoted", "rolled_back"})
        assert status == "promoted", versions.rollout("cancer").reason
        assert versions.get_model_version_by_alias("cancer", "champion").version == 3
        kinds = [e.kind for e in versions.rollout_events(versions.rollout("cancer").id)]
        assert kinds == ["start", "advance", "promote"]

        bad = versions.start_rollout("cancer", _spec("cancer/4"))
        assert bad.baseline_version == 3
        assert _wait_for_status(versions, {"promoted", "rolled_back"}) == "rolled_back"
        time.sleep(0.5)
    record = versions.rollout("cancer")
    assert "agreement" in record.reason or "divergence" in record.reason
    rollback = versions.rollout_events(record.id)[-1]
    failed = {c["name"] for c in rollback.details["checks"] if c["status"] == "fail"}
    assert failed & {"agreement", "divergence"}
    assert "error_rate" not in failed  # caught as a model, not by errors
    assert versions.get_model_version_by_alias("cancer", "champion").version == 3
    assert versions.get_deployment("cancer").policy["kind"] == "single"
    assert set(traffic.statuses) == {200}, traffic.statuses
    assert traffic.versions[4] > 0  # the bad version did get (a little) traffic


def test_too_little_traffic_waits_then_fails_at_the_deadline(
    served: TestClient, versions: Client
) -> None:
    spec = RolloutSpec(to="cancer/3", steps=(50, 100), interval_s=0.2, deadline_s=1.0)
    versions.start_rollout("cancer", spec)
    time.sleep(0.5)
    assert versions.rollout("cancer").status == "running"  # waiting, not passing blindly
    assert _wait_for_status(versions, {"rolled_back"}, timeout=10) == "rolled_back"
    assert "too little traffic" in versions.rollout("cancer").reason
    assert versions.get_deployment("cancer").policy["kind"] == "single"


def test_deadline_can_pause_instead(served: TestClient, versions: Client) -> None:
    spec = RolloutSpec(
        to="cancer/3", steps=(50, 100), interval_s=0.2, deadline_s=0.5, on_deadline="pause"
    )
    versions.start_rollout("cancer", spec)
    assert _wait_for_status(versions, {"paused"}, timeout=10) == "paused"
    assert versions.get_deployment("cancer").policy["kind"] == "canary"  # traffic stays put
    versions.abort_rollout("cancer")
    assert versions.rollout("cancer").status == "aborted"


def test_manual_pause_resume_promote_abort(versions: Client) -> None:
    spec = RolloutSpec(to="cancer/3", steps=(10, 100), interval_s=60)
    versions.start_rollout("cancer", spec)
    assert versions.pause_rollout("cancer").status == "paused"
    with pytest.raises(Conflict, match="paused; cannot pause"):
        versions.pause_rollout("cancer")
    assert versions.resume_rollout("cancer").status == "running"
    assert versions.promote_rollout("cancer").status == "promoted"
    assert versions.get_model_version_by_alias("cancer", "champion").version == 3
    versions.start_rollout("cancer", RolloutSpec(to="cancer/1", steps=(10, 100)))
    assert versions.abort_rollout("cancer").status == "aborted"
    assert versions.get_deployment("cancer").policy["target"]["alias"] == "champion"
    assert versions.get_model_version_by_alias("cancer", "champion").version == 3
    actions = [e["action"] for e in versions.audit_events()]
    assert {
        "rollout.start",
        "rollout.pause",
        "rollout.resume",
        "rollout.promote",
        "rollout.aborted",
    } <= set(actions)


def test_bad_rollouts_are_refused(versions: Client) -> None:
    with pytest.raises(Conflict, match="already serves"):
        versions.start_rollout("cancer", RolloutSpec(to="cancer@champion"))
    versions.start_rollout("cancer", RolloutSpec(to="cancer/3"))
    with pytest.raises(Conflict, match="already has rollout"):
        versions.start_rollout("cancer", RolloutSpec(to="cancer/4"))
    with pytest.raises(Conflict, match="in rollout"):
        versions.update_deployment("cancer", model="cancer/2")
    for bad, fragment in [
        ({"steps": (50, 25, 100)}, "increase"),
        ({"steps": (5, 50)}, "end at 100"),
        ({"strategy": "linear"}, "unknown strategy"),
        ({"on_deadline": "cry"}, "on_deadline"),
    ]:
        with pytest.raises(InvalidInput, match=fragment):
            RolloutSpec(to="cancer/3", **bad)
    with pytest.raises(InvalidInput, match="unknown rollout spec field"):
        RolloutSpec.from_dict({"to": "cancer/3", "step": [5]})
    assert parse_duration("90s") == 90 and parse_duration("2m") == 120
    with pytest.raises(InvalidInput, match="duration"):
        parse_duration("soon")


def test_js_distance_matches_scipy() -> None:
    from scipy.spatial.distance import jensenshannon

    p = {"a": 30, "b": 50, "c": 20}
    q = {"a": 10, "b": 10, "d": 80}
    keys = ["a", "b", "c", "d"]
    expected = jensenshannon([p.get(k, 0) for k in keys], [q.get(k, 0) for k in keys], base=2)
    assert js_distance(p, q) == pytest.approx(expected)
    assert js_distance(p, p) == pytest.approx(0.0, abs=1e-9)
    assert np.isclose(js_distance({"x": 1}, {"y": 1}), 1.0)
