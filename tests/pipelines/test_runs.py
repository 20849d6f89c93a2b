"""Executing runs: steps recorded, failures stop cleanly, retries, cache, gate, approval."""

from __future__ import annotations

import json
from pathlib import Path

from shipyard import Client
from shipyard.pipelines.runner import PipelineRunner
from shipyard.pipelines.scheduler import PipelineScheduler
from tests.pipelines.helpers import DATASET, MODEL, make_data, serve_champion, write_pipeline


def _setup(client: Client, tmp_path: Path, *, approval: bool = False) -> None:
    serve_champion(client)
    client.add_dataset(DATASET, make_data(seed=1))  # new data arrives
    client.register_pipeline("retrain", str(write_pipeline(tmp_path, approval=approval)))


def test_a_run_records_every_step_and_ends_in_a_rollout(client: Client, tmp_path: Path) -> None:
    _setup(client, tmp_path)
    run = client.run_pipeline("retrain")
    assert run.status == "deploying", run.error
    assert [(s.name, s.status) for s in run.steps] == [
        ("ingest", "succeeded"),
        ("holdout", "succeeded"),
        ("train", "succeeded"),
        ("register", "succeeded"),
        ("gate", "succeeded"),
        ("deploy", "waiting"),
    ]
    assert run.trigger == {"source": "manual", "by": "tester"}
    assert run.code_sha256 == client.get_pipeline("retrain").code_sha256
    assert run.step("ingest").outputs["value"] == {"$dataset": DATASET, "version": 2}
    assert (
        run.step("register").inputs["candidate"]["$run"]
        == run.step("train").outputs["value"]["$run"]
    )
    assert "logged the model" in run.step("train").logs
    assert all(s.duration_s is not None for s in run.steps[:5])
    # the candidate carries its gate result; lineage links it back to the pipeline run
    version = client.get_model_version(MODEL, 2)
    assert version.tags["gate.status"] == "passed"
    gate = json.loads(version.tags["gate.result"])
    assert gate["champion"] == f"models:/{MODEL}/1" and gate["slices"]["group"].keys() == {"a", "b"}
    assert any(c["name"].startswith("fairness") for c in gate["checks"])
    assert client.get_run(version.run_id or "").tags["shipyard.pipeline_run"] == str(run.id)
    assert client.get_model_version_by_alias(MODEL, "challenger").version == 2
    rollout = client.rollout(MODEL)
    assert rollout.status == "running" and rollout.candidate_version == 2
    # the rollout decides (here by hand); the scheduler ends the run with its outcome
    client.promote_rollout(MODEL)
    PipelineScheduler(client.store, "test").finish_rollouts()
    assert client.get_pipeline_run(run.id).status == "queued"
    PipelineRunner(client, "test").run_next()  # the next executor finishes the rest
    done = client.get_pipeline_run(run.id)
    assert done.status == "succeeded" and "promoted" in done.outcome
    assert done.step("deploy").outputs["value"]["status"] == "promoted"
    assert client.get_model_version_by_alias(MODEL, "champion").version == 2


def test_a_rolled_back_rollout_ends_the_run_rolled_back(client: Client, tmp_path: Path) -> None:
    _setup(client, tmp_path)
    run = client.run_pipeline("retrain")
    client.abort_rollout(MODEL)
    PipelineScheduler(client.store, "test").finish_rollouts()
    ended = client.get_pipeline_run(run.id)
    assert ended.status == "rolled_back" and "aborted" in ended.outcome
    assert client.get_model_version_by_alias(MODEL, "champion").version == 1


def test_a_failing_gate_stops_before_anything_is_deployed(client: Client, tmp_path: Path) -> None:
    _setup(client, tmp_path)
    run = client.run_pipeline("retrain", {"shuffle_labels": "true"})
    assert run.status == "failed"
    assert run.step("gate").status == "failed" and run.step("deploy").status == "pending"
    assert "gate failed: auc >= 0.8" in run.error
    result = run.step("gate").outputs["value"]
    assert result["passed"] is False and result["metrics"]["auc"] < 0.8
    version = client.get_model_version(MODEL, 2)
    assert version.tags["gate.status"] == "failed"
    assert "challenger" not in version.aliases
    assert client.store.rollouts.latest_for(MODEL) is None
    assert client.get_deployment(MODEL).policy == {
        "kind": "single",
        "target": {"model": MODEL, "version": None, "alias": "champion"},
    }


def test_a_failing_training_step_registers_nothing_and_retries_from_there(
    client: Client, tmp_path: Path
) -> None:
    _setup(client, tmp_path)
    marker = tmp_path / "bad-data"
    marker.write_text("x")
    run = client.run_pipeline("retrain", {"fail_marker": str(marker)})
    assert run.status == "failed" and "step 'train' failed" in run.error
    assert "RuntimeError: training data check failed" in run.step("train").error
    assert "Traceback" in run.step("train").logs
    assert [s.status for s in run.steps] == [
        "succeeded",
        "succeeded",
        "failed",
        "pending",
        "pending",
        "pending",
    ]
    assert [v.version for v in client.list_model_versions(MODEL)] == [1]  # nothing half-made
    failed_runs = client.search_runs(experiment="retrain", filter="status = 'FAILED'")
    assert len(failed_runs) == 1
    ingest_ended = run.step("ingest").ended_at

    marker.unlink()  # the data is fixed
    retried = client.retry_pipeline_run(run.id)
    assert retried.id == run.id and retried.attempt == 2
    assert retried.status == "deploying", retried.error
    assert retried.step("ingest").ended_at == ingest_ended  # not executed again
    assert retried.step("train").attempt == 2 and retried.step("train").status == "succeeded"
    assert [v.version for v in client.list_model_versions(MODEL)] == [1, 2]


def test_unchanged_steps_are_reused_from_cache(client: Client, tmp_path: Path) -> None:
    _setup(client, tmp_path)
    first = client.run_pipeline("retrain")
    client.abort_rollout(MODEL)
    second = client.run_pipeline("retrain")
    assert second.step("train").status == "cached"
    assert second.step("train").outputs == first.step("train").outputs
    assert second.step("ingest").status == "succeeded"  # not cacheable: reads the newest data
    third = client.run_pipeline("retrain", {"seed": "3"})  # other parameters: trained again
    assert third.step("train").status == "succeeded"


def test_approval_waits_and_records_who_approved(client: Client, tmp_path: Path) -> None:
    _setup(client, tmp_path, approval=True)
    run = client.run_pipeline("retrain")
    assert run.status == "awaiting_approval" and run.waiting == {"step": "deploy"}
    assert client.store.rollouts.latest_for(MODEL) is None
    approved = client.approve_pipeline_run(run.id, comment="looks good", wait=True)
    assert approved.status == "deploying"
    assert approved.params["_approval"]["by"] == "tester"
    assert approved.params["_approval"]["comment"] == "looks good"
    assert client.rollout(MODEL).candidate_version == 2

    client.abort_rollout(MODEL)
    second = client.run_pipeline("retrain")
    rejected = client.reject_pipeline_run(second.id, comment="not today")
    assert rejected.status == "rejected" and "not today" in rejected.outcome
    assert client.rollout(MODEL).id == approved.waiting["rollout"]  # nothing new rolled out


def test_the_first_deploy_creates_the_deployment(tmp_path: Path, client: Client) -> None:
    client.add_dataset(DATASET, make_data())
    client.register_pipeline("retrain", str(write_pipeline(tmp_path)))
    run = client.run_pipeline("retrain")
    assert run.status == "succeeded", run.error
    assert run.step("deploy").outputs["value"]["outcome"] == "created"
    assert client.get_model_version_by_alias(MODEL, "champion").version == 1
    gate = json.loads(client.get_model_version(MODEL, 1).tags["gate.result"])
    relative = next(c for c in gate["checks"] if "champion" in c["name"])
    assert relative["passed"] and relative["detail"] == "no champion yet: passes"
