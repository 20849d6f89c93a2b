"""``shipyard build``: what the context holds, what it never holds, and clear refusals."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app, run
from shipyard.config import StoreSettings
from shipyard.errors import InvalidInput, ShipyardError
from shipyard.sdk.keys import create_key_file
from tests.packaging.helpers import deploy_shadowed

runner = CliRunner()


def _every_byte(folder: Path) -> bytes:
    """All files of the context, and every member of every wheel (zipped text hides)."""
    chunks = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            chunks.append(path.name.encode() + b"\n" + path.read_bytes())
            if path.suffix == ".whl":
                with zipfile.ZipFile(path) as wheel:
                    chunks.extend(wheel.read(member) for member in wheel.namelist())
    return b"\n".join(chunks)


@pytest.mark.slow
def test_no_secret_reaches_the_context_or_the_json(
    tmp_path: Path, pg_schema_url: str, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    password = "Pw-s3cret-9f2c"  # the server trusts local connections and ignores it
    db_url = pg_schema_url.replace("postgres@", f"postgres:{password}@", 1)
    assert password in db_url
    settings = StoreSettings(home=tmp_path / "ws", db_url=db_url, user="tester")
    with Client(settings=settings) as client:
        deploy_shadowed(client, fitted_pipeline, X)
        token = client.create_token("ci", "admin").token
    out = tmp_path / "ctx"
    result = runner.invoke(
        app,
        ["--home", str(tmp_path / "ws"), "build", "cancer", "--out", str(out), "--bake", "--json"],
        env={"SHIPYARD_DB_URL": db_url},
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert [v["uri"] for v in summary["versions"]] == ["models:/cancer/1", "models:/cancer/2"]
    everything = _every_byte(out) + result.output.encode()
    for secret in (password, db_url, token, token[4:]):
        assert secret.encode() not in everything, f"{secret!r} leaked into the context"
    manifest = json.loads((out / "manifest.json").read_text())
    assert "SHIPYARD_DB_URL" in manifest["env"]["required"]  # named, never valued
    assert sorted(v["sha256"] for v in manifest["versions"]) == sorted(
        v["sha256"] for v in summary["versions"]
    )


def test_an_unknown_deployment_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ctx"
    argv = ["shipyard", "--home", str(tmp_path / "ws"), "build", "nope", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as info:
        run()
    assert info.value.code != 0
    err = capsys.readouterr().err.strip()
    assert "deployment 'nope' does not exist" in err and "Traceback" not in err
    assert not out.exists()  # nothing written


def test_a_used_out_folder_is_refused(
    tmp_path: Path, sqlite_client: Client, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    deploy_shadowed(sqlite_client, fitted_pipeline, X)
    out = tmp_path / "ctx"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInput, match="must be a new or empty folder"):
        sqlite_client.build_container("cancer", out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_a_remote_client_says_where_to_build() -> None:
    client = Client(url="http://127.0.0.1:9", token="shp_x")
    with pytest.raises(InvalidInput, match="runs where the store is"):
        client.build_container("cancer", "ctx")


def test_bake_is_refused_for_an_encrypted_workspace(
    tmp_path: Path, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    key = tmp_path / "key"
    create_key_file(key)
    settings = StoreSettings(home=tmp_path / "ws", encryption_key_file=key, user="tester")
    with Client(settings=settings) as client:
        deploy_shadowed(client, fitted_pipeline, X)
        with pytest.raises(ShipyardError, match="plaintext"):
            client.build_container("cancer", tmp_path / "ctx", bake=True)
    assert not (tmp_path / "ctx").exists()
