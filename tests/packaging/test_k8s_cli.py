"""``shipyard k8s`` on a real store: files written, ``--json`` lists them, and no secret
of the store or the environment reaches any file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app
from shipyard.config import StoreSettings

PASSWORD = "Pg-s3cret-4f9a"  # trust auth ignores it; the URL still carries it
OTHER_SECRETS = {
    "SHIPYARD_REDIS_URL": "redis://:Redis-s3cret-77@redis:6379/0",
    "AWS_SECRET_ACCESS_KEY": "Aws-s3cret-0c1d",
    "SHIPYARD_TOKEN": "shp_Token-s3cret-9e",
}


def test_cli_writes_manifests_without_any_secret(pg_schema_url: str, tmp_path: Path, monkeypatch):
    from sklearn.linear_model import LogisticRegression

    db_url = pg_schema_url.replace(
        "postgresql+psycopg://postgres@", f"postgresql+psycopg://postgres:{PASSWORD}@"
    )
    assert PASSWORD in db_url
    home = tmp_path / "ws"
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    with Client(settings=StoreSettings(home=home, db_url=db_url, user="tester")) as client:
        client.register_model(
            LogisticRegression().fit(X, [0, 0, 1, 1]), name="fraud", sample_input=X
        )
        client.create_deployment("Fraud_Model.v2", "fraud/1")
    for key, value in OTHER_SECRETS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SHIPYARD_DB_URL", db_url)
    monkeypatch.delenv("SHIPYARD_URL", raising=False)
    out = tmp_path / "k8s"
    (out / "notes.yaml").parent.mkdir()
    (out / "notes.yaml").write_text("mine: true\n")  # not generated: left alone

    def run(*extra: str) -> dict:
        result = CliRunner().invoke(
            app,
            ["--home", str(home), "k8s", "Fraud_Model.v2", "--out", str(out), "--json", *extra],
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    listed = run("--service-monitor", "--stream", "orders")
    files = {Path(f["file"]).relative_to(out).as_posix(): f["kind"] for f in listed["files"]}
    assert files["deployment.yaml"] == "Deployment"
    assert files["batch/cronjob.yaml"] == "CronJob"
    assert "stream.yaml" in files and "servicemonitor.yaml" in files
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    assert written == sorted([*files, "notes.yaml"])

    kserve = run("--kserve")  # the plain serving files go, the InferenceService comes
    kinds = {f["kind"] for f in kserve["files"]}
    assert "InferenceService" in kinds and "Service" not in kinds
    assert not (out / "deployment.yaml").exists() and (out / "notes.yaml").exists()

    secrets = [PASSWORD, db_url, *OTHER_SECRETS.values()]
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text()
            for secret in secrets:
                assert secret not in text, f"{secret!r} in {path}"
            for doc in yaml.safe_load_all(text):
                assert doc.get("kind") != "Secret"
    output = json.dumps([listed, kserve])
    assert not any(secret in output for secret in secrets)
