"""HTTPS and mutual TLS for ``shipyard serve``, and the CA bundle Shipyard's own clients use.

Certificates are made in the test (tests/server/pki.py); nothing is committed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.app import error_message, exit_code_for
from shipyard.cli.main import app
from shipyard.config import HttpSettings
from shipyard.deploy.webhooks import WebhookDispatcher
from shipyard.errors import InvalidInput, ShipyardError
from shipyard.http import http_client, ssl_context
from shipyard.server.background import free_port
from shipyard.server.tls import TlsFileError, TlsFiles, check_tls_files, server_context
from tests.server.pki import Pki, issue, make_pki
from tests.server.processes import start_server, stop_server

runner = CliRunner()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _files(pki: Pki, client_ca: bool = False) -> TlsFiles:
    return TlsFiles(pki.server.cert, pki.server.key, pki.ca.cert if client_ca else None)


# --- the files, checked before any worker starts ------------------------------------------


def test_good_files_pass_and_the_context_refuses_anything_below_tls_1_2(pki: Pki) -> None:
    check = check_tls_files(_files(pki, client_ca=True))
    assert check.warnings == ()
    context = server_context(_files(pki, client_ca=True))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert server_context(_files(pki)).verify_mode == ssl.CERT_NONE


def test_bad_files_are_refused_with_the_option_and_the_reason(pki: Pki, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    expired = issue(pki.ca, tmp_path, "expired", server=True, starts_in_days=-10, valid_days=2)
    future = issue(pki.ca, tmp_path, "future", server=True, starts_in_days=3)
    locked = issue(pki.ca, tmp_path, "locked", server=True, password=b"secret")
    cases = [
        (TlsFiles(tmp_path / "none.crt", pki.server.key), "--tls-cert .* does not exist"),
        (TlsFiles(tmp_path, pki.server.key), "--tls-cert .* is not a file"),
        (TlsFiles(garbage, pki.server.key), "--tls-cert .* holds no PEM certificate"),
        (TlsFiles(pki.server.cert, garbage), "--tls-key .* holds no PEM private key"),
        (TlsFiles(pki.server.cert, pki.client.key), "--tls-key .* does not match"),
        (TlsFiles(expired.cert, expired.key), "--tls-cert .* expired on"),
        (TlsFiles(future.cert, future.key), "--tls-cert .* is not valid before"),
        (TlsFiles(locked.cert, locked.key), "--tls-key .* is encrypted"),
        (TlsFiles(pki.server.cert, pki.server.key, garbage), "--tls-client-ca .* no PEM"),
    ]
    for files, message in cases:
        with pytest.raises(TlsFileError, match=message):
            check_tls_files(files)


def test_a_certificate_close_to_expiry_is_a_warning(pki: Pki) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=29)  # the server cert lives 30 days
    check = check_tls_files(_files(pki), now=soon)
    assert check.warnings and "expires on" in check.warnings[0]


def test_serve_refuses_bad_tls_options_before_starting(pki: Pki, tmp_path: Path) -> None:
    home = str(tmp_path / "ws")
    cases = [
        (["--tls-cert", str(pki.server.cert)], "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", str(pki.ca.cert)], "--tls-client-ca needs --tls-cert"),
        (
            ["--tls-cert", str(pki.server.cert), "--tls-key", str(pki.client.key)],
            "does not match",
        ),
        (
            ["--tls-cert", str(tmp_path / "missing.crt"), "--tls-key", str(pki.server.key)],
            "does not exist",
        ),
        (["--ca-bundle", str(tmp_path / "missing.pem")], "CA bundle .* does not exist"),
    ]
    for options, message in cases:
        result = runner.invoke(app, ["--home", home, "serve", *options])
        code, output = result.exit_code, result.output
        if isinstance(result.exception, ShipyardError):  # what `shipyard` (cli.main.run) prints
            code, output = exit_code_for(result.exception), error_message(result.exception)
        assert code == 2, output
        assert re.search(message, output.replace("\n", "")), output
    assert not (tmp_path / "ws").exists()  # refused before the workspace was opened


# --- Shipyard's own clients: one CA bundle setting ----------------------------------------


def test_a_ca_bundle_that_is_missing_or_not_pem_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "bundle.pem"
    garbage.write_text("nothing here")
    with pytest.raises(InvalidInput, match="does not exist"):
        ssl_context(HttpSettings(ca_bundle=tmp_path / "missing.pem"))
    with pytest.raises(InvalidInput, match="no usable PEM certificate"):
        ssl_context(HttpSettings(ca_bundle=garbage))
    assert ssl_context(HttpSettings()).verify_mode == ssl.CERT_REQUIRED  # system store


class HttpsReceiver:
    """A webhook endpoint over HTTPS with the test CA's server certificate."""

    def __init__(self, pki: Pki) -> None:
        self.events: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.events.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

            def handle(self) -> None:
                try:
                    super().handle()
                except (ssl.SSLError, ConnectionError):
                    return None  # a client that did not trust us: the test looks at it

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.socket = server_context(_files(pki)).wrap_socket(
            self.server.socket, server_side=True, do_handshake_on_connect=False
        )
        self.url = f"https://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def https_receiver(pki: Pki) -> Iterator[HttpsReceiver]:
    receiver = HttpsReceiver(pki)
    yield receiver
    receiver.close()


async def _deliver(workspace: Client, http: HttpSettings) -> WebhookDispatcher:
    dispatcher = WebhookDispatcher(
        workspace.store, "test", poll_s=0.05, attempts=2, first_backoff_s=0.01, http=http
    )
    dispatcher.cursor = workspace.store.events.last_id()
    workspace.set_alias("cancer", "champion", 2)
    dispatcher.start()
    for _ in range(200):
        if dispatcher.delivered or dispatcher.failed:
            break
        await asyncio.sleep(0.05)
    await dispatcher.close()
    return dispatcher


async def test_webhooks_to_https_verify_with_the_ca_bundle(
    workspace: Client, https_receiver: HttpsReceiver, pki: Pki
) -> None:
    workspace.add_webhook(https_receiver.url, ["alias."])
    trusted = await _deliver(workspace, HttpSettings(ca_bundle=pki.ca.cert))
    assert (trusted.delivered, trusted.failed) == (1, 0)
    assert [e["action"] for e in https_receiver.events] == ["alias.set"]


async def test_webhooks_to_https_fail_without_the_ca_bundle(
    workspace: Client, https_receiver: HttpsReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    workspace.add_webhook(https_receiver.url, ["alias."])
    untrusted = await _deliver(workspace, HttpSettings())  # the system store
    assert (untrusted.delivered, untrusted.failed) == (0, 1)
    assert https_receiver.events == []
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


# --- the real server ------------------------------------------------------------------------


def _tls_options(pki: Pki, *, client_ca: bool = False) -> list[str]:
    options = ["--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key)]
    if client_ca:
        options += ["--tls-client-ca", str(pki.ca.cert)]
    return options


def _handshake(url: str, context: ssl.SSLContext) -> str:
    """Open a TLS connection to the server; returns the negotiated version or raises."""
    host, port = url.removeprefix("https://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = tls.recv(64)  # with TLS 1.3 a refused client certificate shows up here
        if not answer:
            raise ssl.SSLError("the server closed the connection")
        return str(tls.version())


def _tls_1_1_client(pki: Pki) -> ssl.SSLContext:
    """A client that can speak at most TLS 1.1 (lowered security level so OpenSSL 3 lets it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1 / TLSv1_1 themselves
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(str(pki.ca.cert))
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def _answer_once(context: ssl.SSLContext) -> tuple[str, threading.Thread]:
    """A one-connection TLS server on a free port (the URL), answering one request."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        with listener:
            conn, _ = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1024)
                    tls.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            except ssl.SSLError:
                conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return f"https://127.0.0.1:{listener.getsockname()[1]}", thread


def test_the_server_context_refuses_a_tls_1_1_client_that_works_elsewhere(pki: Pki) -> None:
    """The TLS 1.1 client connects to a server that allows TLS 1.1 (so OpenSSL here can
    speak it), and ``server_context`` refuses it with the protocol-version alert."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        permissive.minimum_version = ssl.TLSVersion.TLSv1
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    permissive.load_cert_chain(str(pki.server.cert), str(pki.server.key))
    url, thread = _answer_once(permissive)
    assert _handshake(url, _tls_1_1_client(pki)) == "TLSv1.1"
    thread.join(5)
    ours = server_context(_files(pki))
    ours.set_ciphers("DEFAULT:@SECLEVEL=0")  # only the minimum version may refuse it
    url, thread = _answer_once(ours)
    with pytest.raises(ssl.SSLError, match="TLSV1_ALERT_PROTOCOL_VERSION"):
        _handshake(url, _tls_1_1_client(pki))
    thread.join(5)


@pytest.mark.slow
def test_https_serves_verified_clients_and_refuses_tls_below_1_2(
    workspace: Client, pki: Pki, records
) -> None:
    process, url = start_server(
        workspace.settings.home, *_tls_options(pki), verify=pki.client_context()
    )
    try:
        assert url.startswith("https://")
        with http_client(HttpSettings(ca_bundle=pki.ca.cert)) as http:
            response = http.post(
                f"{url}/v1/deployments/cancer/predict", json={"inputs": records[:2]}
            )
            assert response.status_code == 200, response.text
        with (
            pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
            http_client(HttpSettings()) as http,  # the system store does not know our CA
        ):
            http.get(f"{url}/health")
        with pytest.raises(httpx.TransportError):  # plain HTTP to the TLS port
            httpx.get(url.replace("https://", "http://") + "/health", timeout=5)
        # uvloop closes the connection without an alert: the handshake ends in an EOF.
        with pytest.raises(ssl.SSLError):
            _handshake(url, _tls_1_1_client(pki))
        assert _handshake(url, pki.client_context()) == "TLSv1.3"
        tls_1_2 = pki.client_context()
        tls_1_2.maximum_version = ssl.TLSVersion.TLSv1_2
        assert _handshake(url, tls_1_2) == "TLSv1.2"
    finally:
        stop_server(process)
    output = " ".join((process.stdout.read() if process.stdout else "").split())
    assert "serving ['cancer', 'colors', 'explodes'] on https://127.0.0.1:" in output, output


@pytest.mark.slow
def test_mutual_tls_on_two_workers_admits_only_the_ca_clients(workspace: Client, pki: Pki) -> None:
    process, url = start_server(
        workspace.settings.home,
        *_tls_options(pki, client_ca=True),
        "--workers",
        "2",
        verify=pki.client_context(pki.client),
    )
    try:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _handshake(url, pki.client_context())  # no client certificate
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _handshake(url, pki.client_context(pki.stranger))  # signed by another CA
        # Fresh connections each time, so both workers' listeners answer some of them.
        for _ in range(30):
            response = httpx.get(f"{url}/health", verify=pki.client_context(pki.client), timeout=5)
            assert response.status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/health", verify=pki.client_context(pki.stranger), timeout=5)
    finally:
        stop_server(process)
    output = " ".join((process.stdout.read() if process.stdout else "").split())
    assert "(client certificates required) with 2 worker(s)" in output, output
