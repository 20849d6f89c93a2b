"""An A/B experiment end to end through the real server: two versions, traffic with a
planted outcome difference, outcomes fed back late, the report names the winner,
``promote`` rolls it out, and the audit trail shows who did what."""

from __future__ import annotations

import time

import numpy as np
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings
from shipyard.server.app import create_app
from tests.conftest import bearer

FAST = ServerSettings(prediction_log_flush_s=0.05, poll_interval_s=0.1)
ALICE = "alice (token alice-ci)"  # how the audit trail names a user's token
CLICK_RATE = {1: 0.20, 2: 0.40}  # planted: v2's answers get clicked twice as often


def _wait_for_arms(server: TestClient, row: list[dict]) -> None:
    """Until the routing table serves the experiment's policy (both arms answer)."""
    deadline = time.monotonic() + 10
    seen: set[str] = set()
    i = 0
    while time.monotonic() < deadline and len(seen) < 2:
        answer = server.post(
            "/v1/deployments/cancer/predict",
            json={"inputs": row},
            headers={"x-user": f"warm-{i}", "x-request-id": f"warm-{i}"},
        ).json()
        seen.add(answer["arm"])
        seen.discard("cancer@champion")
        i += 1
    assert len(seen) == 2, f"the A/B policy never served both arms: {seen}"


def test_an_experiment_finds_the_planted_winner_and_promotes_it(
    workspace: Client, breast_cancer
) -> None:
    X, _ = breast_cancer
    workspace.add_user("alice", "deployer")
    token = workspace.create_token("alice-ci", "deployer", user="alice").token
    row = X[:1].to_dict(orient="records")
    rng = np.random.default_rng(7)
    with TestClient(
        create_app(FAST, client=workspace), headers={"authorization": f"Bearer {token}"}
    ) as server:
        started = server.post(
            "/api/ab",
            json={
                "name": "lift",
                "deployment": "cancer",
                "arms": "cancer/1=50,cancer/2=50",
                "key": "header:X-User",
                "metrics": ["outcome.clicked", "latency_ms"],
                "guardrails": ["error_rate<=0.05", "p99_ms<=5000"],
                "min_samples": 200,
                "min_effect": 0.5,
            },
        )
        assert started.status_code == 201, started.text
        assert started.json()["started_by"] == ALICE
        again = server.post(
            "/api/ab",
            json={
                "name": "other",
                "deployment": "cancer",
                "arms": "cancer/1,cancer/2",
                "metrics": ["accuracy"],
            },
        )
        assert again.status_code == 409 and "already runs experiment 'lift'" in again.text
        _wait_for_arms(server, row)

        answered: dict[str, int] = {}
        for i in range(800):
            response = server.post(
                "/v1/deployments/cancer/predict",
                json={"inputs": row},
                headers={"x-user": f"user-{i}", "x-request-id": f"r{i}"},
            )
            assert response.status_code == 200, response.text
            answered[f"r{i}"] = response.json()["version"]
        # The same user always lands on the same arm (sticky by key).
        repeat = server.post(
            "/v1/deployments/cancer/predict",
            json={"inputs": row},
            headers={"x-user": "user-5", "x-request-id": "repeat"},
        )
        assert repeat.json()["version"] == answered["r5"]

        early = server.get("/api/ab/lift/report").json()
        assert early["decision"]["verdict"] == "keep_running"  # no outcome has arrived yet

        # Outcomes arrive late, in one batch, long after the answers.
        outcomes = [
            {"request_id": rid, "outcome": {"clicked": int(rng.random() < CLICK_RATE[version])}}
            for rid, version in answered.items()
        ]
        assert server.post("/v1/deployments/cancer/feedback", json=outcomes).json() == {
            "accepted": 800
        }
        time.sleep(0.3)  # the prediction log's writer flushes every 50 ms
        report = server.get("/api/ab/lift/report")
        assert report.status_code == 200, report.text
        data = report.json()
        assert sum(data["assigned"].values()) >= 800
        assert data["srm"]["flagged"] is False
        clicked = data["metrics"][0]
        assert clicked["kind"] == "rate"
        comparison = clicked["comparisons"]["cancer/2"]
        assert 0.1 < comparison["difference"] < 0.3  # planted +0.20
        assert comparison["ci_low"] > 0 and comparison["p_value"] < 0.001
        assert all(g["holds"] for g in data["guardrails"])
        assert data["decision"]["verdict"] == "winner", data["decision"]
        assert data["decision"]["winner"] == "cancer/2"

        promoted = server.post("/api/ab/lift/promote", json={"steps": [50, 100], "interval_s": 1})
        assert promoted.status_code == 200, promoted.text
        rollout = promoted.json()["rollout"]
        assert rollout["candidate_version"] == 2 and rollout["baseline_version"] == 1
        assert rollout["created_by"] == ALICE
        status = server.get("/api/ab/lift").json()
        assert status["status"] == "stopped" and status["stopped_by"] == ALICE
        assert status["outcome"]["winner"] == "cancer/2"
        assert server.post("/api/ab/lift/promote").status_code == 409  # stopped already

    actions = {
        (e.action, e.actor, e.object_id)
        for e in workspace.audit_log(limit=1000)
        if e.action.startswith("experiment.")
    }
    assert ("experiment.start", ALICE, "lift") in actions
    assert ("experiment.promote", ALICE, "lift") in actions
    assert [e.actor for e in workspace.audit_log(action="rollout.start")] == [ALICE]
    rollouts = workspace.store.rollouts.history("cancer")
    assert rollouts[0].created_by == ALICE and rollouts[0].spec["to"] == "cancer/2"


def test_a_viewer_reads_status_but_neither_starts_nor_reads_outcomes(workspace: Client) -> None:
    viewer = workspace.create_token("v", "viewer").token
    predictor = workspace.create_token("p", "predictor").token
    with TestClient(create_app(FAST, client=workspace)) as server:
        body = {
            "name": "x",
            "deployment": "cancer",
            "arms": "cancer/1,cancer/2",
            "metrics": ["accuracy"],
        }
        denied = server.post("/api/ab", json=body, headers={"authorization": f"Bearer {viewer}"})
        assert denied.status_code == 403 and "deploy" in denied.text
        listed = server.get("/api/ab", headers={"authorization": f"Bearer {viewer}"})
        assert listed.status_code == 200 and listed.json() == []
        report = server.get("/api/ab/x/report", headers={"authorization": f"Bearer {predictor}"})
        assert report.status_code == 403


def test_the_servers_bandit_controller_moves_traffic_to_the_rewarded_arm(
    workspace: Client, breast_cancer
) -> None:
    """Inside a real server: the leased controller reads the log and the fed-back rewards,
    writes new weights as the policy, and the routing table serves by them."""
    X, _ = breast_cancer
    row = X[:1].to_dict(orient="records")
    settings = ServerSettings(
        prediction_log_flush_s=0.05, poll_interval_s=0.1, controller_tick_s=0.1
    )
    workspace.ab_start(
        "ctr",
        deployment="cancer",
        arms="cancer/1,cancer/2",
        bandit=True,
        reward="outcome.clicked",
        update_every_s=0.2,
        max_step=0.5,
    )
    with TestClient(create_app(settings, client=workspace), headers=bearer(workspace)) as server:

        def serve(count: int, prefix: str) -> dict[str, int]:
            versions = {}
            for i in range(count):
                answer = server.post(
                    "/v1/deployments/cancer/predict",
                    json={"inputs": row},
                    headers={"x-request-id": f"{prefix}{i}"},
                ).json()
                versions[f"{prefix}{i}"] = answer["version"]
            return versions

        first = serve(200, "a")
        assert 40 < sum(v == 2 for v in first.values()) < 160  # about half each
        workspace.add_feedback(
            "cancer",
            [{"request_id": r, "outcome": {"clicked": int(v == 2)}} for r, v in first.items()],
        )
        deadline = time.monotonic() + 20
        weights: dict[str, float] = {}
        while time.monotonic() < deadline:
            history = workspace.store.experiments.weights("ctr")
            weights = history[-1].weights if history else {}
            if weights.get("cancer/2", 0) > 0.9:
                break
            time.sleep(0.1)
        assert weights.get("cancer/2", 0) > 0.9, weights
        time.sleep(0.5)  # the routing table polls the store every 0.1 s
        later = serve(200, "b")
        assert sum(v == 2 for v in later.values()) > 160
    report = workspace.ab_report("ctr")
    assert report.bandit is not None and report.bandit["probability_best"]["cancer/2"] > 0.99
    assert report.decision.verdict == "keep_running"  # 1,000 rewarded samples per arm needed
