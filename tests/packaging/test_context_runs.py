"""The context runs without Docker: its own install line into a fresh venv, its own CMD.

There is no Docker daemon on this machine, so the test does what the image
would: it runs the builder's RUN line (read from the Dockerfile, with
``/opt/venv`` mapped to a fresh virtual environment), then the final stage's
CMD from the context folder, with the Dockerfile's ENV plus what a Kubernetes
manifest supplies (database URL, artifact URL; a token in the store), and
asks for predictions over HTTP. ``--bake`` runs against an empty artifact
store, so the answers can only come from the baked trees. One venv serves
both modes: their requirements and wheel are identical (asserted). Two
departures from the image, both outside what it installs or serves: pip runs
with ``--no-compile`` (no bytecode files; halves the install here) and the
CMD's port is a free one (8080 may be taken on a shared machine).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.server.background import free_port
from tests.packaging.helpers import deploy_shadowed, env_of, exec_form, run_commands

IMAGE_PATHS = ("/opt/venv", "/opt/shipyard/models", "/var/lib/shipyard")


def _install(context: Path, venv: Path) -> None:
    """The builder's RUN line, run from the context as from the builder's WORKDIR."""
    for argv in run_commands(context / "Dockerfile"):
        argv = [a.replace("/opt/venv", str(venv)) for a in argv]
        if argv[0] == "python":
            argv[0] = sys.executable
        if argv[1:2] == ["install"]:  # no bytecode: the same packages in half the time
            argv.insert(2, "--no-compile")
        subprocess.run(argv, cwd=context, check=True, capture_output=True, timeout=240)


def _image_env(
    context: Path, venv: Path, home: Path, manifest_env: dict[str, str]
) -> dict[str, str]:
    """The Dockerfile's ENV with the image's paths mapped to this machine's, plus the
    manifest's variables; nothing inherited from the test's own environment."""
    local = {
        "/opt/venv": str(venv),
        "/opt/shipyard/models": str(context / "models"),
        "/var/lib/shipyard": str(home),
    }
    env: dict[str, str] = {"PATH": "/usr/bin:/bin"}
    for key, value in env_of(context / "Dockerfile").items():
        for image_path, here in local.items():
            value = value.replace(image_path, here)
        env[key] = value.replace("$PATH", "/usr/bin:/bin")
    return {**env, **manifest_env}


def _serve(context: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    cmd = exec_form(context / "Dockerfile")
    port = free_port()
    cmd[cmd.index("--port") + 1] = str(port)  # the only change: 8080 may be taken here
    process = subprocess.Popen(
        cmd, cwd=context, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded CI box: no bytecode, cold start
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise AssertionError(
                f"the CMD exited: {process.stdout.read() if process.stdout else ''}"
            )
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"not ready in 120 s: {process.stdout.read() if process.stdout else ''}")


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)  # exec form: the server itself gets it
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def _listing(folder: Path) -> set[tuple[str, int]]:
    """Every file below ``folder`` with its size: what a read-only filesystem would keep."""
    return {(str(p), p.stat().st_size) for p in folder.rglob("*") if p.is_file()}


def _du_mb(folder: Path) -> float:
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 1e6


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_bake_and_fetch_contexts_serve_correct_predictions_without_docker(
    tmp_path: Path, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    settings = StoreSettings(home=tmp_path / "ws", user="tester")
    started = time.monotonic()
    with Client(settings=settings) as client:
        deploy_shadowed(client, fitted_pipeline, X)
        token = client.create_token("pod-test", "admin").token
        client.build_container("cancer", tmp_path / "bake", bake=True)
        client.build_container("cancer", tmp_path / "fetch", bake=False)
    print(f"two contexts built: {time.monotonic() - started:.0f} s")
    bake, fetch = tmp_path / "bake", tmp_path / "fetch"
    assert (bake / "requirements.txt").read_text() == (fetch / "requirements.txt").read_text()
    assert [p.name for p in (bake / "wheels").iterdir()] == [
        p.name for p in (fetch / "wheels").iterdir()
    ]
    assert not (fetch / "models").exists()

    venv = tmp_path / "venv"
    started = time.monotonic()
    _install(bake, venv)
    install_s = time.monotonic() - started
    print(f"fresh venv install: {install_s:.0f} s, {_du_mb(venv):.0f} MB")

    read_only = _listing(venv) | _listing(bake) | _listing(fetch)  # the image's read-only parts
    rows = X[:25]
    expected = fitted_pipeline.predict(rows).tolist()
    empty_store = tmp_path / "empty-store"
    empty_store.mkdir()
    stores = {bake: str(empty_store), fetch: str(settings.home / "artifacts")}
    for context, artifacts_url in stores.items():
        env = _image_env(
            context,
            venv,
            tmp_path / f"home-{context.name}",
            {
                "SHIPYARD_DB_URL": settings.resolved_db_url(),
                "SHIPYARD_ARTIFACTS_URL": artifacts_url,
            },
        )
        (tmp_path / f"home-{context.name}").mkdir()
        started = time.monotonic()
        process, url = _serve(context, env)
        print(f"{context.name}: ready in {time.monotonic() - started:.1f} s")
        try:
            answer = httpx.post(
                f"{url}/v1/deployments/cancer/predict",
                json={"inputs": rows.to_dict(orient="records")},
                headers={"authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == expected
            unauthenticated = httpx.post(
                f"{url}/v1/deployments/cancer/predict", json={"inputs": []}, timeout=10
            )
            assert unauthenticated.status_code == 401
        finally:
            output = _stop(process)
        # uvicorn drains, then re-raises the SIGTERM it caught: -15 is a clean stop
        assert process.returncode in (0, -signal.SIGTERM), output
        assert "Traceback" not in output, output
        assert _listing(venv) | _listing(bake) | _listing(fetch) == read_only
        if context == bake:
            assert "SHIPYARD_BAKED_MODELS" in env
            assert not (empty_store / "objects").exists()  # nothing fetched, nothing stored
