"""The SDK on both back ends: the same calls, the same results and the same errors,
direct (store in this process) and remote (through a real ``shipyard serve``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter

from shipyard import Client
from shipyard.deploy.policy import Arm, CanaryPolicy
from shipyard.entities import RunStatus
from shipyard.errors import InvalidInput, NotFound
from shipyard.registry.uri import parse_model_uri
from shipyard.sdk.operations import operations_of


def test_a_run_logs_params_metrics_tags_artifacts_and_inputs(
    sdk: Client, unique: str, tmp_path: Path
) -> None:
    experiment = f"exp-{unique}"
    notes = tmp_path / "notes.txt"
    notes.write_text("trained on a sample")
    with sdk.start_run(experiment, params={"C": 0.5}, tags={"team": "risk"}) as run:
        run.log_param("penalty", "l2")
        for step in range(50):
            run.log_metric("loss", 1 / (step + 1), step=step)
        run.log_metrics({"auc": 0.91, "f1": 0.8})
        run.set_tag("stage", "dev")
        run.log_batch([("lr", 0.1, 0), ("lr", 0.05, 1)], params={"seed": 7})
        artifact = run.log_artifact(notes, name="notes.txt")
        run.log_input("train-data", 3, "abc")
    stored = sdk.get_run(run.id)
    assert stored.status == RunStatus.FINISHED and stored.end_time is not None
    assert stored.params == {"C": "0.5", "penalty": "l2", "seed": "7"}
    assert stored.metrics["loss"] == pytest.approx(1 / 50) and stored.metrics["auc"] == 0.91
    assert stored.tags["team"] == "risk" and stored.tags["stage"] == "dev"
    assert [a.path for a in stored.artifacts] == ["notes.txt"]
    assert stored.artifacts[0].sha256 == artifact.sha256
    assert [(i.dataset, i.version, i.digest) for i in stored.inputs] == [("train-data", "3", "abc")]
    history = sdk.get_metric_history(run.id, "loss")
    assert [p.step for p in history] == list(range(50))
    assert [p.value for p in sdk.get_metric_history(run.id, "lr")] == [0.1, 0.05]


def test_search_and_compare_runs(sdk: Client, unique: str) -> None:
    experiment = f"search-{unique}"
    ids = []
    for c in (0.1, 1.0, 10.0):
        with sdk.start_run(experiment, params={"C": c}) as run:
            run.log_metric("auc", c / 10)
        ids.append(run.id)
    found = sdk.search_runs(experiment, "metrics.auc >= 0.1", order_by="metrics.auc DESC")
    assert [r.id for r in found] == [ids[2], ids[1]]
    assert [r.id for r in sdk.search_runs(experiment, "params.C = '0.1'")] == [ids[0]]
    assert experiment in [e.name for e in sdk.list_experiments()]
    comparison = sdk.compare_runs(ids)
    assert comparison.metrics["auc"] == [0.01, 0.1, 1.0]


def test_pages_of_runs_their_keys_and_the_versions_registered_from_a_run(
    sdk: Client, unique: str, fitted_pipeline, breast_cancer
) -> None:
    experiment = f"pages-{unique}"
    ids = []
    for index in range(5):
        with sdk.start_run(experiment, params={"C": index, f"only{index % 2}": "x"}) as run:
            run.log_metrics({"auc": index / 10, "loss": 1.0})
        ids.append(run.id)
    order = "metrics.auc DESC"
    pages = [sdk.search_runs(experiment, None, order, 2, offset) for offset in (0, 2, 4)]
    assert [[r.id for r in page] for page in pages] == [ids[4:2:-1], ids[2:0:-1], ids[:1]]
    with pytest.raises(InvalidInput, match="offset"):
        sdk.search_runs(experiment, offset=-1)
    keys = sdk.run_keys(experiment)
    assert keys.params == ["C", "only0", "only1"] and keys.metrics == ["auc", "loss"]
    assert {"C", "only0"} <= set(sdk.run_keys().params)
    X, _ = breast_cancer
    name = f"from-run-{unique}"
    sdk.register_model(fitted_pipeline, name=name, sample_input=X[:5], run_id=ids[3])
    assert [(v.name, v.version) for v in sdk.run_model_versions(ids[3])] == [(name, 1)]
    assert sdk.run_model_versions(ids[0]) == []


def test_a_failed_run_says_why(sdk: Client, unique: str) -> None:
    with pytest.raises(ZeroDivisionError), sdk.start_run(f"fail-{unique}") as run:
        run.log_metric("loss", 1.0)
        _ = 1 / 0
    stored = sdk.get_run(run.id)
    assert stored.status == RunStatus.FAILED and "ZeroDivisionError" in (stored.error or "")
    assert stored.metrics == {"loss": 1.0}  # the buffer was written when the run ended


def test_register_alias_and_load_a_model(
    sdk: Client, unique: str, breast_cancer, fitted_pipeline
) -> None:
    X, _ = breast_cancer
    name = f"cancer-{unique}"
    with sdk.start_run(f"train-{unique}") as run:
        run.log_metric("auc", 0.97)
        first = run.register_model(fitted_pipeline, name=name, sample_input=X.head(20))
    second = sdk.register_model(fitted_pipeline, name=name, sample_input=X.head(20))
    assert (first.version, second.version) == (1, 2)
    assert first.run_id == run.id and first.metrics == {"auc": 0.97}
    assert sdk.set_alias(name, "challenger", 1) is None
    assert sdk.set_alias(name, "challenger", 2) == 1
    assert sdk.get_model_version_by_alias(name, "challenger").version == 2
    assert sdk.resolve_model_uri(f"models:/{name}@challenger").version == 2
    assert [v.version for v in sdk.list_model_versions(name)] == [1, 2]
    assert sdk.get_model(name).latest_version == 2
    sdk.set_model_tag(name, "owner", "risk")
    sdk.set_version_tag(name, 2, "validated", "yes")
    sdk.set_description(name, "breast cancer screening")
    assert sdk.get_model(name).tags == {"owner": "risk"}
    assert sdk.get_model_version(name, 2).tags == {"validated": "yes"}
    assert [c.version for c in sdk.alias_history(name, "challenger")] == [1, 2]
    loaded = sdk.load_model(f"models:/{name}@challenger")
    np.testing.assert_array_equal(loaded.predict(X.head(50)), fitted_pipeline.predict(X.head(50)))
    assert sdk.delete_alias(name, "challenger") == 2
    with pytest.raises(NotFound):
        sdk.get_model_version_by_alias(name, "challenger")


def test_a_logged_model_is_registered_without_saving_it_again(
    sdk: Client, unique: str, breast_cancer, fitted_pipeline
) -> None:
    X, _ = breast_cancer
    with sdk.start_run(f"log-{unique}") as run:
        uri = run.log_model(fitted_pipeline, "clf", sample_input=X.head(5))
    assert uri == f"runs:/{run.id}/clf"
    version = sdk.register_model(uri, name=f"logged-{unique}")
    logged = next(a for a in sdk.get_run(run.id).artifacts if a.path == "models/clf")
    assert version.sha256 == logged.sha256 and version.run_id == run.id


def test_datasets_round_trip_and_are_recorded_as_run_inputs(
    sdk: Client, unique: str, tmp_path: Path
) -> None:
    name = f"loans-{unique}"
    frame = pd.DataFrame({"amount": [100.0, 250.0, np.nan, 80.0], "term": [12, 24, 36, 12]})
    first = sdk.add_dataset(name, frame)
    csv = tmp_path / "loans.csv"
    frame.assign(amount=frame["amount"].fillna(90.0)).to_csv(csv, index=False)
    second = sdk.add_dataset(name, csv)
    assert (first.version, second.version, second.rows) == (1, 2, 4)
    assert sdk.add_dataset(name, frame).version == 1  # same content: the same version
    with sdk.start_run(f"data-{unique}") as run:
        loaded = sdk.load_dataset(f"datasets:/{name}/1")
    pd.testing.assert_frame_equal(loaded, frame)
    assert [(i.dataset, i.version) for i in sdk.get_run(run.id).inputs] == [(name, "1")]
    assert sum(len(b) for b in sdk.dataset_batches(f"datasets:/{name}/2", batch_size=3)) == 4
    assert [d.version for d in sdk.list_datasets(name)] == [1, 2]
    assert sdk.get_dataset(name, 2).sha256 == second.sha256
    spec = sdk.expectations(name, infer_from=2)
    sdk.set_expectations(name, spec)
    assert sdk.expectations(name) == spec
    report = sdk.validate_dataset(name, frame.assign(term=["x", "y", "z", "w"]))
    assert not report.ok
    cleaned = sdk.clean_dataset(name, 1, {"amount": "median"})
    assert cleaned.derived["fill_values"] == {"amount": 100.0}
    assert sdk.diff_datasets(name, 1, 2)["rows"] == {"from": 4, "to": 4}
    assert sdk.lineage(f"datasets:/{name}/3").id.endswith("/3")


def test_a_deployment_lifecycle(
    sdk: Client, unique: str, breast_cancer, fitted_pipeline, tmp_path: Path
) -> None:
    X, _ = breast_cancer
    model, name = f"dep-model-{unique}", f"dep-{unique}"
    sdk.register_model(fitted_pipeline, name=model, sample_input=X.head(10))
    sdk.register_model(fitted_pipeline, name=model, sample_input=X.head(10))
    created = sdk.create_deployment(name, f"{model}/1", description="screening")
    assert created.name == name and created.description == "screening"
    canary = CanaryPolicy(
        (
            Arm(parse_model_uri(f"models:/{model}/1"), 90),
            Arm(parse_model_uri(f"models:/{model}/2"), 10),
        )
    )
    updated = sdk.set_policy(name, canary)
    assert updated.policy == canary.to_dict() | {"arms": updated.policy["arms"]}
    assert [a["weight"] for a in updated.policy["arms"]] == [90, 10]
    assert name in [d.name for d in sdk.list_deployments()]
    assert sdk.get_deployment(name).policy["kind"] == "canary"
    assert sdk.predictions(name).empty
    # Kubernetes manifests only read the deployment: written here on both back ends.
    written = sdk.write_kubernetes_manifests(name, tmp_path / "k8s")
    assert {"Deployment", "Service", "HorizontalPodAutoscaler"} <= {m.kind for m in written}
    assert name in (tmp_path / "k8s" / "deployment.yaml").read_text()
    sdk.delete_deployment(name)
    with pytest.raises(NotFound):
        sdk.get_deployment(name)


def test_errors_are_the_same_on_both_back_ends(sdk: Client, unique: str) -> None:
    with pytest.raises(NotFound, match=r"0{32}"):
        sdk.get_run("0" * 32)
    with pytest.raises(NotFound):
        sdk.get_model(f"missing-{unique}")
    with pytest.raises(InvalidInput, match="positive integer or 'latest'"):
        sdk.get_model_version(f"missing-{unique}", "first")
    with pytest.raises(InvalidInput, match="max_results"):
        sdk.search_runs(max_results=0)
    with pytest.raises(InvalidInput):
        sdk.search_runs(filter="metrics.auc >>> 1")


def test_paged_reads_answer_the_same_on_both_back_ends(
    sdk: Client, unique: str, breast_cancer, fitted_pipeline
) -> None:
    """The reads the dashboard pages with: LIMIT/OFFSET, newest first, light metrics."""
    X, _ = breast_cancer
    name = f"paged-{unique}"
    with sdk.start_run(f"paged-{unique}") as run:
        run.log_metric("auc", 0.9)
        first = run.register_model(fitted_pipeline, name=name, sample_input=X.head(20))
    for _ in range(3):
        sdk.register_package(first.sha256, name=name)
    for version in (1, 2, 3):
        sdk.set_alias(name, "champion", version)
    page = sdk.list_model_versions(name, limit=2, offset=1, newest_first=True)
    assert [v.version for v in page] == [3, 2] and page[0].aliases == ("champion",)
    assert sdk.version_metrics(name) == [(1, {"auc": 0.9}), (2, {}), (3, {}), (4, {})]
    assert [c.version for c in sdk.alias_history(name, limit=2)] == [2, 3]
    assert name in [m.name for m in sdk.list_models(limit=1000)]
    dataset = f"paged-{unique}"
    for i in range(3):
        sdk.add_dataset(dataset, pd.DataFrame({"x": [i, i + 1]}))
    assert [r.version for r in sdk.list_datasets(dataset, limit=2, newest_first=True)] == [3, 2]
    newest = {r.name: (r.version, n) for r, n in sdk.latest_datasets(limit=1000)}
    assert newest[dataset] == (3, 3)
    assert sdk.dataset_profile(dataset, 2)["columns"]["x"]["kind"] == "numeric"
    with pytest.raises(InvalidInput):
        sdk.list_models(limit=0)


def test_every_operation_has_a_wire_schema() -> None:
    """Each operation's arguments and result can be written and read by pydantic, so a
    method added to the Client is reachable remotely or fails here, not for a user."""
    ops = operations_of(Client)
    assert len(ops) > 90
    for op in ops.values():
        for parameter in op.wire_parameters():
            if parameter.name not in op.uploads:
                TypeAdapter(op.hints[parameter.name]).json_schema()
        if op.hints.get("return") is not None:
            TypeAdapter(op.hints["return"]).json_schema(mode="serialization")
