"""``shipyard serve``: the serving processes (uvicorn with uvloop and httptools)."""

from __future__ import annotations

import ipaddress
import os
import tempfile
from typing import Annotated

import typer

from shipyard.cli.app import console, fail, state
from shipyard.config import ServerSettings


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    auth: Annotated[
        bool,
        typer.Option(
            help="Require a token on every route but liveness/readiness; --no-auth is for "
            "local experiments and only allowed on a loopback --host."
        ),
    ] = True,
    open_metrics: Annotated[
        bool, typer.Option(help="Serve /metrics without a token (for a Prometheus scraper).")
    ] = False,
    pipelines: Annotated[
        bool,
        typer.Option(help="Run pipeline triggers and executions here (else: shipyard worker)."),
    ] = True,
) -> None:
    """Serve every deployment over the native, OIP v2 and MLflow protocols."""
    import uvicorn

    if not auth and not is_loopback(host):
        fail(
            f"--no-auth is refused with --host {host}: anyone who can reach it could change "
            "what production serves; use a token (shipyard tokens create) or a loopback host"
        )
    client = state.client  # validates the workspace before any worker starts
    settings = ServerSettings(
        host=host,
        port=port,
        workers=workers,
        default_deployment=default_deployment,
        model_threads=model_threads,
        pipelines=pipelines,
        auth=auth,
        open_metrics=open_metrics,
    )
    env = {
        "SHIPYARD_HOME": str(client.settings.home.resolve()),
        "SHIPYARD_PORT": str(port),
        "SHIPYARD_HOST": host,
        "SHIPYARD_MODEL_THREADS": str(model_threads),
        "SHIPYARD_PIPELINES": "true" if pipelines else "false",
        "SHIPYARD_AUTH": "true" if auth else "false",
        "SHIPYARD_OPEN_METRICS": "true" if open_metrics else "false",
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
    if not auth:
        console.print("[yellow]authentication is off (--no-auth): for local experiments only[/]")
    elif not any(t.revoked_at is None for t in client.list_tokens()):
        console.print(
            "every route but /health needs a token, and there is none yet: "
            "shipyard tokens create --name admin --role admin"
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
