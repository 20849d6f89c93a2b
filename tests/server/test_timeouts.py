"""Slow clients are disconnected: deadlines for a request's head and body, idle keep-alive.

The real ``shipyard serve`` with short deadlines, driven over raw sockets.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from shipyard import Client
from shipyard.config import StoreSettings
from tests.server.processes import start_server, stop_server

pytestmark = pytest.mark.slow

HEAD = 0.5
# The server's deadline starts when it accepts the connection, a moment before the
# client starts its clock: a close can look that moment early.
SLACK = 0.05
BODY = 1.0
KEEP_ALIVE = 2


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """One server for the module: the deadlines are per connection, so tests can share it."""
    home = tmp_path_factory.mktemp("timeouts") / "ws"
    Client(settings=StoreSettings(home=home)).close()  # an empty workspace is enough
    process, url = start_server(
        home,
        env={
            "SHIPYARD_HEADER_TIMEOUT_S": str(HEAD),
            "SHIPYARD_BODY_TIMEOUT_S": str(BODY),
            "SHIPYARD_KEEP_ALIVE_S": str(KEEP_ALIVE),
        },
    )
    host, port = url.removeprefix("http://").split(":")
    yield host, int(port)
    stop_server(process)


def _closed_after(sock: socket.socket, trickle: bytes = b"", limit: float = 10.0) -> float:
    """Seconds until the server closes ``sock``, sending ``trickle`` a byte at a time."""
    started = time.monotonic()
    sock.settimeout(0.1)
    sent = 0
    while time.monotonic() - started < limit:
        try:
            if sock.recv(1024) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except ConnectionResetError:
            return time.monotonic() - started
        if sent < len(trickle):
            try:
                sock.sendall(trickle[sent : sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
            sent += 1
            time.sleep(0.1)
    raise AssertionError(f"the connection was still open after {limit} s")


def _request(sock: socket.socket) -> bytes:
    """One GET /health on a kept-alive connection; the whole response, head and body."""
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(5)
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    head, body = response.split(b"\r\n\r\n", 1)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(4096)
    return response


def test_a_connection_that_sends_nothing_is_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        assert HEAD - SLACK <= _closed_after(sock) < HEAD + 2


def test_a_head_sent_a_byte_at_a_time_is_cut_off(address: tuple[str, int]) -> None:
    head = b"POST /v1/deployments/cancer/predict HTTP/1.1\r\nHost: x\r\n" + b"x-pad: 1\r\n" * 20
    with socket.create_connection(address) as sock:
        assert HEAD - SLACK <= _closed_after(sock, trickle=head) < HEAD + 2  # bytes kept coming


def test_a_body_that_never_arrives_is_cut_off(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(
            b"POST /v1/deployments/cancer/predict HTTP/1.1\r\nHost: x\r\n"
            b'content-type: application/json\r\ncontent-length: 1000\r\n\r\n{"inputs"'
        )
        assert BODY - SLACK <= _closed_after(sock) < BODY + 2


def test_kept_alive_connections_serve_then_close_when_idle(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        assert _request(sock).startswith(b"HTTP/1.1 200")
        time.sleep(HEAD + 0.5)  # idle longer than the head deadline, shorter than keep-alive
        assert _request(sock).startswith(b"HTTP/1.1 200")
        assert KEEP_ALIVE - 0.5 <= _closed_after(sock) < KEEP_ALIVE + 2
