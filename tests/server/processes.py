"""``shipyard serve`` as users start it, in a subprocess on a free port (end-to-end tests)."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shipyard.server.background import free_port


def start_server(
    home: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    base_env: dict[str, str] | None = None,
    auth: bool = False,
    verify: ssl.SSLContext | None = None,
    port: int | None = None,
) -> tuple[subprocess.Popen[str], str]:
    """Start the server and wait until /health says ready; ``base_env`` replaces os.environ.

    Tests of serving behaviour run it with ``--no-auth`` (allowed: it listens on
    127.0.0.1); ``auth=True`` starts it as users do, tokens required. With
    ``--tls-cert`` among the options the URL is https and /health is polled
    with ``verify`` (a client context trusting the test CA, with a client
    certificate for mutual TLS).
    """
    port = port or free_port()
    shipyard = str(Path(sys.executable).parent / "shipyard")
    flags = [] if auth else ["--no-auth"]
    process = subprocess.Popen(
        [shipyard, "--home", str(home), "serve", "--port", str(port), *flags, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **(os.environ if base_env is None else base_env),
            "SHIPYARD_POLL_INTERVAL_S": "0.2",
            **(env or {}),
        },
    )
    scheme = "https" if "--tls-cert" in extra else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            health = httpx.get(f"{url}/health", timeout=1, verify=verify or True)
            if health.status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise AssertionError(
                f"server exited: {process.stdout.read() if process.stdout else ''}"
            )
        time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not become ready in 60 s")


def stop_server(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
