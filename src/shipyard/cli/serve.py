"""``shipyard serve``: the serving processes (uvicorn with uvloop and httptools, TLS)."""

from __future__ import annotations

import ipaddress
import os
import ssl
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli.app import console, err_console, fail, state
from shipyard.config import HttpSettings, ServerSettings
from shipyard.cores import threads_per_worker
from shipyard.http import ssl_context
from shipyard.server.protocol import DeadlineHttpProtocol
from shipyard.server.tls import TlsFiles, check_tls_files, context_factory


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
        typer.Option(
            min=0,
            envvar="SHIPYARD_MODEL_THREADS",
            help="OpenMP/BLAS threads per worker (avoid oversubscribing cores); 0: the cores "
            "this process may use (CPU affinity, the container's cgroup CPU limit) / workers.",
        ),
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
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="Serve HTTPS with this PEM certificate (chain); needs --tls-key."),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="The certificate's PEM private key (unencrypted).")
    ] = None,
    tls_client_ca: Annotated[
        Path | None,
        typer.Option(help="Mutual TLS: only clients with a certificate this PEM CA signed."),
    ] = None,
    trust_uploaded_code: Annotated[
        bool,
        typer.Option(
            envvar="SHIPYARD_TRUST_UPLOADED_CODE",
            help="Let clients (the remote SDK, MLflow clients) register models that run code "
            "when loaded (pickle, cloudpickle, pyfunc: MLflow 2's sklearn default); only if "
            "every client that may register is trusted.",
        ),
    ] = False,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(
            envvar="SHIPYARD_CA_BUNDLE",
            help="PEM CA bundle for outgoing https calls (webhooks); default: system store.",
        ),
    ] = None,
) -> None:
    """Serve every deployment over the native, OIP v2 and MLflow protocols."""
    import uvicorn

    if not auth and not is_loopback(host):
        fail(
            f"--no-auth is refused with --host {host}: anyone who can reach it could change "
            "what production serves; use a token (shipyard tokens create) or a loopback host"
        )
    files = _tls_files(tls_cert, tls_key, tls_client_ca)
    if ca_bundle is not None:
        ssl_context(HttpSettings(ca_bundle=ca_bundle))  # a bad bundle fails here, not per hook
    client = state.local_client  # validates the workspace before any worker starts
    model_threads = threads_per_worker(model_threads, workers)  # 0: the CPU limit, shared
    settings = ServerSettings(
        host=host,
        port=port,
        workers=workers,
        default_deployment=default_deployment,
        model_threads=model_threads,
        pipelines=pipelines,
        auth=auth,
        open_metrics=open_metrics,
        tls_cert=files.cert if files else None,
        tls_key=files.key if files else None,
        tls_client_ca=files.client_ca if files else None,
    )
    env = {
        "SHIPYARD_HOME": str(client.settings.home.resolve()),
        "SHIPYARD_PORT": str(port),
        "SHIPYARD_HOST": host,
        "SHIPYARD_MODEL_THREADS": str(model_threads),
        "SHIPYARD_PIPELINES": "true" if pipelines else "false",
        "SHIPYARD_AUTH": "true" if auth else "false",
        "SHIPYARD_OPEN_METRICS": "true" if open_metrics else "false",
        "SHIPYARD_TRUST_UPLOADED_CODE": "true" if trust_uploaded_code else "false",
    }
    if client.settings.db_url:
        env["SHIPYARD_DB_URL"] = client.settings.db_url
    if client.settings.artifacts_url:
        env["SHIPYARD_ARTIFACTS_URL"] = client.settings.artifacts_url
    if default_deployment:
        env["SHIPYARD_DEFAULT_DEPLOYMENT"] = default_deployment
    if ca_bundle is not None:
        env["SHIPYARD_CA_BUNDLE"] = str(ca_bundle.resolve())
    if files is not None:
        env["SHIPYARD_TLS_CERT"] = str(files.cert)
        env["SHIPYARD_TLS_KEY"] = str(files.key)
        if files.client_ca is not None:
            env["SHIPYARD_TLS_CLIENT_CA"] = str(files.client_ca)
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
    scheme = "https" if files else "http"
    mtls = " (client certificates required)" if files and files.client_ca else ""
    console.print(
        f"serving {deployments or 'no deployments yet'} on {scheme}://{host}:{port}{mtls} "
        f"with {workers} worker(s); docs at {scheme}://{host}:{port}/docs"
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
        http=DeadlineHttpProtocol,  # httptools, with deadlines for a request's head and body
        lifespan="on",
        access_log=False,
        log_level=log_level,
        timeout_graceful_shutdown=settings.graceful_shutdown_s,
        timeout_keep_alive=settings.keep_alive_s,
        # TLS: uvicorn carries the file names into every worker, where our factory
        # builds the context (TLS >= 1.2; client certificates required with a CA).
        ssl_certfile=_name(settings.tls_cert),
        ssl_keyfile=_name(settings.tls_key),
        ssl_ca_certs=_name(settings.tls_client_ca),
        ssl_cert_reqs=ssl.CERT_REQUIRED if settings.tls_client_ca else ssl.CERT_NONE,
        ssl_context_factory=context_factory if settings.tls else None,
    )


def _name(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _tls_files(cert: Path | None, key: Path | None, client_ca: Path | None) -> TlsFiles | None:
    """The checked TLS files, or None for plain HTTP; a bad combination or file exits 2."""
    if cert is None and key is None:
        if client_ca is not None:
            fail("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if cert is None or key is None:
        fail("--tls-cert and --tls-key go together: give both")
    files = TlsFiles(
        cert=cert.resolve(),
        key=key.resolve(),
        client_ca=client_ca.resolve() if client_ca is not None else None,
    )
    for warning in check_tls_files(files).warnings:
        err_console.print(f"warning: {warning}")
    return files
