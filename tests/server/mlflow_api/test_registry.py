"""Registering MLflow-uploaded models as Shipyard versions, aliases, search and the
artifact proxy, through the routes the stock client calls."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from shipyard import Client
from tests.conftest import bearer
from tests.server.mlflow_api.conftest import API, ARTIFACTS, serve, wait_until_known


@pytest.fixture(scope="module")
def iris_model():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    return LogisticRegression(max_iter=500).fit(X, y), X


def _mlflow_files(model, fmt: str) -> dict[str, bytes]:
    """The files MLflow's sklearn flavor writes (skops in 3.x, cloudpickle in 2.x)."""
    if fmt == "skops":
        import skops.io as sio

        name, data = "model.skops", sio.dumps(model)
    else:
        name, data = "model.pkl", pickle.dumps(model)
    spec = {
        "artifact_path": "model",
        "flavors": {
            "python_function": {"loader_module": "mlflow.sklearn", "model_path": name},
            "sklearn": {"pickled_model": name, "serialization_format": fmt},
        },
    }
    return {
        "MLmodel": yaml.safe_dump(spec).encode(),
        name: data,
        "requirements.txt": b"scikit-learn\n",
    }


def _run(http: TestClient) -> tuple[str, str]:
    experiment_id = http.post(f"{API}/experiments/create", json={"name": "iris"}).json()[
        "experiment_id"
    ]
    run = http.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()["run"]
    return experiment_id, run["info"]["run_id"]


def _upload(http: TestClient, prefix: str, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        answer = http.put(f"{ARTIFACTS}/{prefix}/{name}", content=data)
        assert answer.status_code == 200, answer.text


def test_a_run_model_registers_as_a_version_that_serves_and_downloads(
    http: TestClient, workspace: Client, iris_model
) -> None:
    model, X = iris_model
    experiment_id, run_id = _run(http)
    prefix = f"{experiment_id}/{run_id}/artifacts/model"
    uploaded = _mlflow_files(model, "skops")
    _upload(http, prefix, uploaded)
    listed = http.get(ARTIFACTS, params={"path": prefix}).json()["files"]
    assert {f["path"] for f in listed} == {"MLmodel", "model.skops", "requirements.txt"}
    assert http.get(ARTIFACTS, params={"path": f"{experiment_id}/{run_id}/artifacts"}).json()[
        "files"
    ] == [{"path": "model", "is_dir": True}]
    assert http.post(f"{API}/registered-models/create", json={"name": "iris"}).status_code == 200
    again = http.post(f"{API}/registered-models/create", json={"name": "iris"})
    assert again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    created = http.post(
        f"{API}/model-versions/create",
        json={"name": "iris", "source": f"mlflow-artifacts:/{prefix}", "run_id": run_id},
    )
    assert created.status_code == 200, created.text
    version = created.json()["model_version"]
    assert version["status"] == "READY" and version["version"] == "1"
    assert version["current_stage"] == "None" and version["run_id"] == run_id
    # It is a Shipyard version: its signature comes from the estimator's feature names.
    registered = workspace.get_model_version("iris", 1)
    assert registered.flavor == "mlflow"
    assert [c.name for c in registered.signature.inputs] == list(X.columns)
    loaded = workspace.load_model("models:/iris/1")
    assert np.array_equal(np.asarray(loaded.predict(X[:5])), model.predict(X[:5]))
    # Alias set, read, deleted (DELETE with a JSON body).
    assert (
        http.post(
            f"{API}/registered-models/alias", json={"name": "iris", "alias": "best", "version": "1"}
        ).json()
        == {}
    )
    by_alias = http.get(f"{API}/registered-models/alias", params={"name": "iris", "alias": "best"})
    assert by_alias.json()["model_version"]["aliases"] == ["best"]
    got = http.get(f"{API}/registered-models/get", params={"name": "iris"}).json()
    assert got["registered_model"]["aliases"] == [{"alias": "best", "version": "1"}]
    deleted = http.request(
        "DELETE", f"{API}/registered-models/alias", json={"name": "iris", "alias": "best"}
    )
    assert deleted.status_code == 200
    gone = http.get(f"{API}/registered-models/alias", params={"name": "iris", "alias": "best"})
    assert gone.status_code == 404
    # Download, as the client loads models:/iris/1: download URI, list, get each file.
    uri = http.get(
        f"{API}/model-versions/get-download-uri", params={"name": "iris", "version": "1"}
    ).json()["artifact_uri"]
    assert uri == "mlflow-artifacts:/registry/iris/1"
    names = {
        f["path"] for f in http.get(ARTIFACTS, params={"path": "registry/iris/1"}).json()["files"]
    }
    assert {"MLmodel", "model.skops"} <= names
    skops_bytes = http.get(f"{ARTIFACTS}/registry/iris/1/model.skops")
    assert skops_bytes.content == uploaded["model.skops"]
    # Version files are read-only; traversal is refused.
    assert http.put(f"{ARTIFACTS}/registry/iris/1/x", content=b"x").status_code == 400
    assert http.get(f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/../../x").status_code in (
        400,
        404,
    )
    events = {e["action"] for e in workspace.audit_events(limit=100)}
    assert {"run.artifact", "model.create", "model_version.register", "alias.delete"} <= events


def test_registry_search_understands_the_3x_prompt_clause(http: TestClient, iris_model) -> None:
    model, _ = iris_model
    experiment_id, run_id = _run(http)
    prefix = f"{experiment_id}/{run_id}/artifacts/model"
    _upload(http, prefix, _mlflow_files(model, "skops"))
    for name in ("iris-a", "iris-b", "other"):
        http.post(
            f"{API}/model-versions/create",
            json={"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id},
        ).raise_for_status()

    def models(filter_: str) -> list[str]:
        answer = http.get(
            f"{API}/registered-models/search", params={"filter": filter_, "max_results": 100}
        )
        assert answer.status_code == 200, answer.text
        return [m["name"] for m in answer.json()["registered_models"]]

    prompt = "tags.`mlflow.prompt.is_prompt` != 'true'"
    assert models(f"name LIKE 'iris%' AND {prompt}") == ["iris-a", "iris-b"]
    assert models("name = 'other' AND tag.`mlflow.prompt.is_prompt` != 'true'") == ["other"]
    assert models(prompt) == ["iris-a", "iris-b", "other"]
    versions = http.get(f"{API}/model-versions/search", params={"filter": "name = 'iris-b'"}).json()
    assert [(v["name"], v["version"]) for v in versions["model_versions"]] == [("iris-b", "1")]
    by_run = http.get(
        f"{API}/model-versions/search", params={"filter": f"run_id = '{run_id}'"}
    ).json()
    assert len(by_run["model_versions"]) == 3
    bad = http.get(f"{API}/registered-models/search", params={"filter": "name ="})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_a_pickled_model_needs_the_server_setting(workspace: Client, iris_model) -> None:
    model, _ = iris_model
    for trust in (False, True):
        settings = workspace.settings.model_copy(update={"trust_uploaded_code": trust})
        with Client(settings=settings) as server_side, serve(server_side) as http:
            headers = bearer(server_side, "scientist")
            http.headers.update(headers)
            wait_until_known(http, headers)
            experiment = http.post(f"{API}/experiments/create", json={"name": f"p{trust}"})
            run = http.post(
                f"{API}/runs/create", json={"experiment_id": experiment.json()["experiment_id"]}
            ).json()["run"]["info"]
            prefix = f"{run['experiment_id']}/{run['run_id']}/artifacts/model"
            _upload(http, prefix, _mlflow_files(model, "cloudpickle"))
            answer = http.post(
                f"{API}/model-versions/create",
                json={"name": "pickled", "source": f"mlflow-artifacts:/{prefix}"},
            )
            if trust:
                assert answer.status_code == 200, answer.text
            else:
                assert answer.status_code == 400
                assert "SHIPYARD_TRUST_UPLOADED_CODE" in answer.json()["message"]


def test_a_native_version_downloads_with_an_mlmodel(
    http: TestClient, workspace: Client, iris_model
) -> None:
    model, X = iris_model
    workspace.register_model(model, name="native", sample_input=X[:20])
    files = http.get(ARTIFACTS, params={"path": "registry/native/1"}).json()["files"]
    assert "MLmodel" in {f["path"] for f in files}
    spec = yaml.safe_load(http.get(f"{ARTIFACTS}/registry/native/1/MLmodel").content)
    assert spec["flavors"]["sklearn"]["serialization_format"] == "skops"


def test_logged_models_lifecycle_and_registration(
    http: TestClient, workspace: Client, iris_model
) -> None:
    model, _ = iris_model
    experiment_id, run_id = _run(http)
    created = http.post(
        f"{API}/logged-models",
        json={"experiment_id": experiment_id, "name": "model", "source_run_id": run_id},
    )
    assert created.status_code == 200, created.text
    info = created.json()["model"]["info"]
    model_id = info["model_id"]
    assert info["status"] == "LOGGED_MODEL_PENDING"
    assert info["artifact_uri"] == f"mlflow-artifacts:/{experiment_id}/models/{model_id}/artifacts"
    _upload(http, f"{experiment_id}/models/{model_id}/artifacts", _mlflow_files(model, "skops"))
    ready = http.patch(
        f"{API}/logged-models/{model_id}",
        json={"model_id": model_id, "status": "LOGGED_MODEL_READY"},
    )
    assert ready.json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    tags = {"tags": [{"key": "mlflow.modelVersions", "value": "[]"}]}
    assert http.patch(f"{API}/logged-models/{model_id}/tags", json=tags).status_code == 200
    assert (
        http.delete(f"{API}/logged-models/{model_id}/tags/mlflow.modelVersions").status_code == 200
    )
    version = http.post(
        f"{API}/model-versions/create",
        json={"name": "logged", "source": f"models:/{model_id}", "model_id": model_id},
    )
    assert version.status_code == 200, version.text
    assert version.json()["model_version"]["model_id"] == model_id
    assert workspace.get_model_version("logged", 1).run_id == run_id
    found = http.post(
        f"{API}/logged-models/search", json={"experiment_ids": [experiment_id]}
    ).json()
    assert [m["info"]["model_id"] for m in found["models"]] == [model_id]
    assert http.get(f"{API}/logged-models/m-{'0' * 32}").status_code == 404


def test_moving_a_protected_alias_needs_a_deployer(
    http: TestClient, workspace: Client, iris_model
) -> None:
    model, X = iris_model
    workspace.register_model(model, name="guarded", sample_input=X[:20])
    scientist = bearer(workspace, "scientist")
    wait_until_known(http, scientist)
    body = {"name": "guarded", "alias": "champion", "version": "1"}
    denied = http.post(f"{API}/registered-models/alias", json=body, headers=scientist)
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    assert "set_protected_alias" in denied.json()["message"]
    ok = {**body, "alias": "challenger"}
    assert (
        http.post(f"{API}/registered-models/alias", json=ok, headers=scientist).status_code == 200
    )
    assert http.post(f"{API}/registered-models/alias", json=body).status_code == 200  # admin
    viewer = bearer(workspace, "viewer")
    wait_until_known(http, viewer)
    refused = http.post(f"{API}/runs/create", json={"experiment_id": "1"}, headers=viewer)
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
