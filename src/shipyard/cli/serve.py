"""``shipyard serve``: the serving processes (uvicorn with uvloop and httptools)."""

from __future__ import annotations

import os
import tempfile
from typing import Annotated

import typer

from shipyard.cli.app import console, state
from shipyard.config import ServerSettings

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Serving processes.")] = 1,
    default_deployment: Annotated[
        str | None,
        typer.Option(help="The deployment plain /invocations serves (default: the only one)."),
    ] = None,
    model_threads: Annotated[
        int,
        typer.Option(min=1, help="OpenMP/BLAS threads per worker (avoid oversubscribing cores)."),
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
    pipelines: Annotated[
        bool,
        typer.Option(help="Run pipeline triggers and executions here (else: shipyard worker)."),
    ] = True,
) -> None:
    """Serve every deployment over the native, OIP v2 and MLflow protocols."""
    import uvicorn

    client = state.client  # validates the workspace before any worker starts
    settings = ServerSettings(
        host=host,
        port=port,
        workers=workers,
        default_deployment=default_deployment,
        model_threads=model_threads,
        pipelines=pipelines,
    )
    env = {
        "SHIPYARD_HOME": str(client.settings.home.resolve()),
        "SHIPYARD_PORT": str(port),
        "SHIPYARD_HOST": host,
        "SHIPYARD_MODEL_THREADS": str(model_threads),
        "SHIPYARD_PIPELINES": "true" if pipelines else "false",
    }
    if client.settings.db_url:
        env["SHIPYARD_DB_URL"] = client.settings.db_url
    if client.settings.artifacts_url:
        env["SHIPYARD_ARTIFACTS_URL"] = client.settings.artifacts_url
    if default_deployment:
        env["SHIPYARD_DEFAULT_DEPLOYMENT"] = default_deployment
    # --model-threads wins over whatever the caller's environment says. Worker processes
    # started after this read the variables before loading a runtime; this process has
    # loaded them already, so each serving process also limits its live pools
    # (serving/threads.py).
    for name in THREAD_VARIABLES:
        env[name] = str(model_threads)
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="shipyard-metrics-")
    os.environ.update(env)
    deployments = [d.name for d in client.list_deployments()]
    console.print(
        f"serving {deployments or 'no deployments yet'} on http://{host}:{port} "
        f"with {workers} worker(s); docs at http://{host}:{port}/docs"
    )
    uvicorn.run(
        "shipyard.server.asgi:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level=log_level,
        timeout_graceful_shutdown=30,
    )
