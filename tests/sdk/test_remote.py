"""What only the remote back end has: a job that holds a URL and a token and nothing
else, the server's roles and audit trail applied to SDK calls, verified and cached
downloads, resumable uploads, and a lost connection that loses nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app
from shipyard.config import StoreSettings
from shipyard.errors import InvalidInput
from shipyard.sdk.remote import AccessDenied, ServerUnavailable
from shipyard.server.background import free_port
from tests.sdk.conftest import Central
from tests.server.processes import start_server, stop_server

JOB = textwrap.dedent(
    """
    import json, sys
    import shipyard
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True, as_frame=True)
    name = sys.argv[1]
    with shipyard.start_run("remote-jobs", params={"max_depth": 3}) as run:
        model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
        run.log_metric("accuracy", float(model.score(X, y)))
        version = run.register_model(model, name=name, sample_input=X.head(10))
    loaded = shipyard.load_model(f"models:/{name}/{version.version}")
    same = (loaded.predict(X) == model.predict(X)).all()
    print(json.dumps({"run": run.id, "version": version.version, "same": bool(same)}))
    """
)


def test_a_job_with_only_a_url_and_a_token(central: Central, tmp_path: Path, unique: str) -> None:
    workdir, home = tmp_path / "job", tmp_path / "home"
    workdir.mkdir()
    home.mkdir()
    script = workdir / "train.py"
    script.write_text(JOB)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "AWS_"))}
    env.update(
        SHIPYARD_URL=central.url,
        SHIPYARD_TOKEN=central.tokens["scientist"],
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    done = subprocess.run(
        [sys.executable, str(script), f"job-{unique}"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["same"] and result["version"] == 1
    assert sorted(p.name for p in workdir.iterdir()) == ["train.py"]  # no workspace made here
    assert (home / ".cache" / "shipyard").is_dir()  # verified downloads, cached by hash
    with Client(settings=StoreSettings(home=central.home, user="check")) as local:
        run = local.get_run(result["run"])
        assert run.user == "scientist-user (token sdk-scientist)"
        assert run.metrics["accuracy"] > 0.9
        created = local.audit_log(action="model_version", limit=50)
        assert any(
            e.object_id.startswith(f"job-{unique}") and e.actor.startswith("scientist-user")
            for e in created
        )


def test_roles_apply_to_sdk_calls(
    central: Central, unique: str, fitted_pipeline, breast_cancer
) -> None:
    sample = breast_cancer[0].head(5)
    name = f"roles-{unique}"
    with central.client("scientist") as scientist:
        scientist.register_model(fitted_pipeline, name=name, sample_input=sample)
        scientist.set_alias(name, "challenger", 1)
        with pytest.raises(AccessDenied, match=r"403.*set_protected_alias"):
            scientist.set_alias(name, "champion", 1)
        with pytest.raises(AccessDenied, match="403"):
            scientist.create_deployment(f"d-{unique}", f"{name}/1")
        with pytest.raises(AccessDenied, match="403"):
            scientist.list_users()
    with central.client("viewer") as viewer:
        assert viewer.get_model(name).latest_version == 1
        with pytest.raises(AccessDenied, match="403"):
            viewer.start_run("viewers-cannot-log")
    stranger = Client(url=central.url, token="shp_" + "x" * 40)
    with stranger, pytest.raises(AccessDenied, match="401"):
        stranger.list_models()
    with central.client("deployer") as deployer:
        assert deployer.set_alias(name, "champion", 1) is None


def test_a_token_narrowed_to_one_model(
    central: Central, unique: str, fitted_pipeline, breast_cancer
) -> None:
    sample = breast_cancer[0].head(5)
    mine, other = f"mine-{unique}", f"other-{unique}"
    with central.client("admin") as admin:
        admin.register_model(fitted_pipeline, name=mine, sample_input=sample)
        admin.register_model(fitted_pipeline, name=other, sample_input=sample)
        narrowed = admin.create_token(f"narrow-{unique}", "scientist", models=[mine]).token
    with Client(url=central.url, token=narrowed) as client:
        _wait_until_known(client)
        assert client.get_model_version(mine, 1).version == 1
        with pytest.raises(AccessDenied, match="limited to models"):
            client.get_model_version(other, 1)
        with pytest.raises(AccessDenied):
            client.register_model(fitted_pipeline, name=other, sample_input=sample)


def _wait_until_known(client: Client) -> None:
    """A new token reaches every worker with the next refresh of its access table."""
    deadline = time.monotonic() + 10
    while True:
        try:
            client.list_experiments()
            return
        except AccessDenied as denied:
            if "401" not in str(denied) or time.monotonic() > deadline:
                return
            time.sleep(0.1)


def test_models_that_run_code_are_not_uploaded_without_trust(
    central: Central, unique: str, fitted_pipeline, breast_cancer
) -> None:
    with central.client("admin") as admin, pytest.raises(InvalidInput, match="TRUST_UPLOADED"):
        admin.register_model(
            fitted_pipeline,
            name=f"pickled-{unique}",
            sample_input=breast_cancer[0].head(5),
            serialization="joblib",
        )


def test_downloads_are_verified_and_cached_by_hash(
    central: Central, unique: str, tmp_path: Path, breast_cancer, fitted_pipeline
) -> None:
    X, _ = breast_cancer
    name = f"cached-{unique}"
    with central.client("admin", cache=tmp_path / "c") as client:
        version = client.register_model(fitted_pipeline, name=name, sample_input=X.head(5))
        client.load_model(f"models:/{name}/1")
        cached = tmp_path / "c" / "cache" / "objects"
        files = [p for p in cached.rglob("*") if p.is_file()]
        assert len(files) >= 2, "the tree manifest and the model's files, cached by hash"
        assert version.sha256[2:] in [p.name for p in files]
        for file in files:
            file.write_bytes(b"tampered")  # a changed cached copy is never trusted
        again = client.load_model(f"models:/{name}/1")
        np.testing.assert_array_equal(again.predict(X.head(5)), fitted_pipeline.predict(X.head(5)))
        assert all(file.read_bytes() != b"tampered" for file in files)


def test_large_files_upload_in_resumable_chunks(central: Central, tmp_path: Path) -> None:
    payload = os.urandom(300_000)
    source = tmp_path / "big.bin"
    source.write_bytes(payload)
    with central.client("scientist") as client:
        artifacts = client.store.artifacts
        artifacts.chunk_bytes = 64 * 1024  # type: ignore[attr-defined]
        ref = artifacts.put_file(source)
        assert artifacts.get_bytes(ref.sha256) == payload
        assert artifacts.exists(ref.sha256)
    headers = {"authorization": f"Bearer {central.tokens['scientist']}"}
    other = {"authorization": f"Bearer {central.tokens['deployer']}"}
    with httpx.Client(base_url=central.url, headers=headers) as http:
        data = os.urandom(1000)
        import hashlib

        sha = hashlib.sha256(data).hexdigest()
        session = http.post("/api/uploads", json={"sha256": sha, "size": 1000}).json()
        path = f"/api/uploads/{session['id']}"
        assert http.put(path, params={"offset": 0}, content=data[:600]).json()["offset"] == 600
        repeated = http.put(path, params={"offset": 0}, content=data[:600])  # answer was lost
        assert repeated.status_code == 409 and "offset 600" in repeated.text
        assert http.get(path).json()["offset"] == 600
        assert http.get(path, headers=other).status_code == 404  # not the deployer's upload
        too_long = http.put(path, params={"offset": 600}, content=data[600:] + b"extra")
        assert too_long.status_code == 400
        assert http.put(path, params={"offset": 600}, content=data[600:]).status_code == 200
        assert http.post(f"{path}/commit").json() == {"sha256": sha, "size": 1000}
        wrong = http.put(f"/api/artifacts/{'0' * 64}", content=b"not that hash")
        assert wrong.status_code == 400 and "hashes to" in wrong.json()["error"]["message"]


def test_a_lost_server_loses_no_logged_point(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    with Client(settings=StoreSettings(home=home, user="setup")) as admin:
        token = admin.create_token("flaky", "scientist").token
    port = free_port()
    process, url = start_server(home, auth=True, port=port)
    client = Client(url=url, token=token)
    client._remote.settings.http_retries = 1  # type: ignore[union-attr]
    try:
        run = client.start_run("flaky")
        run.log_metrics({"loss": 0.5}, step=0)
        stop_server(process)
        run.log_metrics({"loss": 0.25}, step=1)
        with pytest.raises(ServerUnavailable, match="nothing logged was dropped"):
            run.flush()
        process, url = start_server(home, auth=True, port=port)
        run.end()
        history = client.get_metric_history(run.id, "loss")
        assert [(p.step, p.value) for p in history] == [(0, 0.5), (1, 0.25)]
    finally:
        client.close()
        stop_server(process)


def test_cli_commands_through_a_server(
    central: Central, unique: str, fitted_pipeline, breast_cancer
) -> None:
    name = f"cli-{unique}"
    with central.client("admin") as admin:
        admin.register_model(fitted_pipeline, name=name, sample_input=breast_cancer[0].head(5))
    runner = CliRunner()
    base = ["--url", central.url, "--token", central.tokens["deployer"]]
    models = runner.invoke(app, [*base, "models", "list", "--json"])
    assert models.exit_code == 0, models.output
    assert name in [m["name"] for m in json.loads(models.output)]
    assert central.tokens["deployer"] not in models.output
    aliased = runner.invoke(app, [*base, "models", "alias", "set", name, "champion", "1"])
    assert aliased.exit_code == 0, aliased.output
    deployed = runner.invoke(
        app, [*base, "deployments", "create", f"d-{unique}", "--model", f"{name}@champion"]
    )
    assert deployed.exit_code == 0, deployed.output
    shown = runner.invoke(app, [*base, "deployments", "show", f"d-{unique}", "--json"])
    assert shown.exit_code == 0 and json.loads(shown.output)["name"] == f"d-{unique}"
    denied = runner.invoke(
        app, ["--url", central.url, "--token", central.tokens["viewer"], "users", "list"]
    )
    assert denied.exit_code != 0
    refused = runner.invoke(app, [*base, "serve"])
    assert refused.exit_code == 2 and "SHIPYARD_URL" in refused.output


def test_batch_jobs_run_on_the_server_inside_its_batch_folders(
    central: Central, unique: str, tmp_path: Path, breast_cancer, fitted_pipeline
) -> None:
    X, _ = breast_cancer
    name = f"batch-{unique}"
    folder = central.home / "batch" / unique
    folder.mkdir(parents=True)
    X.head(40).to_csv(folder / "in.csv", index=False)
    with central.client("deployer") as client:
        client.register_model(fitted_pipeline, name=name, sample_input=X.head(5))
        job = client.batch_predict(f"models:/{name}/1", folder / "in.csv", folder / "out")
        assert (job.status, job.rows_done) == ("succeeded", 40)
        assert list((folder / "out").glob("*.parquet"))
        outside = tmp_path / "elsewhere.csv"
        X.head(5).to_csv(outside, index=False)
        with pytest.raises(InvalidInput, match="outside the server's batch folders"):
            client.batch_predict(f"models:/{name}/1", outside, folder / "out2")
        with pytest.raises(InvalidInput, match="runs where the store is"):
            client.register_pipeline("anything", "/tmp/pipeline.py")
