"""uvicorn's httptools protocol with deadlines for receiving a request.

uvicorn 0.54 closes idle keep-alive connections (``timeout_keep_alive``) but
has no deadline for a request's head or body: a client that opens
connections and sends a byte now and then (slowloris) holds them forever.
Here a request must send its head within ``header_timeout_s`` of the
connection opening (or of its first byte on a kept-alive connection), and
its body within ``body_timeout_s`` of the head; otherwise the connection is
closed. The application never sees such a request.

uvicorn starts each worker from a pickled config that names this class, so
the deadlines are read once per process from the ``SHIPYARD_*`` environment,
as the app factory reads its settings.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shipyard.config import ServerSettings

logger = logging.getLogger(__name__)


@functools.cache
def _deadlines() -> tuple[float, float]:
    settings = ServerSettings()
    return settings.header_timeout_s, settings.body_timeout_s


class DeadlineHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that closes connections too slow to send a request."""

    _deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, what: str) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            logger.info("closing a connection from %s: %s not received in time", self.client, what)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(_deadlines()[0], "request head")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a kept-alive connection's next request
            self._arm(_deadlines()[0], "request head")

    def on_headers_complete(self) -> None:
        self._arm(_deadlines()[1], "request body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()
