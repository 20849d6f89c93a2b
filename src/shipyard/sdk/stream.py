"""The ``shipyard.Client`` methods for stream scoring (kept apart so client.py stays small).

The CLI's ``shipyard stream`` commands are thin adapters over these.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.config import ServerSettings
from shipyard.entities import StreamConsumerRecord
from shipyard.errors import InvalidInput
from shipyard.sdk.operations import local_only, operation
from shipyard.security.permissions import Permission as P

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from shipyard.serving.stream import StreamConsumer, StreamStatus
    from shipyard.store import Store


#: Presence rows are listed back at most a year and a thousand at a time.
MAX_WITHIN_S = 366 * 24 * 3600.0
MAX_CONSUMERS = 1000


# The consumer pulls in redis.asyncio and the whole serving core (~0.1 s): loaded on
# first use so that ``import shipyard`` and every CLI start do not pay for it.
def _stream() -> Any:
    from shipyard.serving import stream

    return stream


class StreamMethods:
    store: Store

    @local_only(
        "a consumer serves models from the store like a serving replica; "
        "start it with store settings, next to `shipyard serve`"
    )
    def stream_consumer(
        self,
        deployment: str,
        *,
        redis_url: str,
        stream: str,
        group: str,
        consumer: str | None = None,
        out_stream: str | None = None,
        dead_stream: str | None = None,
        batch: int = 100,
        max_deliveries: int = 5,
        min_idle_s: float = 30.0,
        start_id: str = "0",
        max_in_flight: int = 2,
        block_ms: int = 1000,
        claim_interval_s: float | None = None,
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
        settings: ServerSettings | None = None,
    ) -> StreamConsumer:
        """A consumer of ``stream`` in ``group`` that scores with ``deployment``.

        Call ``run()`` (blocks until SIGTERM/SIGINT or ``stop()``; ``run(messages=N)`` or
        ``run(seconds=S)`` for a bounded run), or ``await serve()`` inside an event loop.
        Results go to ``out_stream`` (default ``<stream>:out``), rejected messages to
        ``dead_stream`` (default ``<stream>:dead``). The consumer name defaults to the
        host name, so a restarted consumer finds its own pending messages again.
        ``metrics_port`` serves the consumer's Prometheus metrics over HTTP (no token:
        it listens on ``metrics_host``, loopback by default). ``settings`` are the
        serving settings (model threads, prediction log, polling), from the environment
        by default, as for ``shipyard serve``.
        """
        stream_mod = _stream()
        config = stream_mod.StreamConfig(
            redis_url=redis_url,
            stream=stream,
            group=group,
            consumer=consumer or stream_mod.default_consumer(),
            out_stream=out_stream,
            dead_stream=dead_stream,
            batch=batch,
            max_deliveries=max_deliveries,
            min_idle_s=min_idle_s,
            start_id=start_id,
            max_in_flight=max_in_flight,
            block_ms=block_ms,
            claim_interval_s=claim_interval_s,
        )
        consumer_: StreamConsumer = stream_mod.StreamConsumer(
            self.store,
            deployment,
            config,
            settings=settings,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
        )
        return consumer_

    @operation(P.READ)
    def stream_consumers(
        self, *, within_s: float = 24 * 3600.0, limit: int = 100
    ) -> list[StreamConsumerRecord]:
        """Stream consumers that reported within ``within_s`` (running, stopped or silent),
        with what each scored, its group's lag and pending count, most recent first."""
        if not 0 < within_s <= MAX_WITHIN_S:
            raise InvalidInput(
                f"within_s must be in (0, {MAX_WITHIN_S:.0f}] seconds, got {within_s}"
            )
        if not 1 <= limit <= MAX_CONSUMERS:
            raise InvalidInput(f"limit must be between 1 and {MAX_CONSUMERS}, got {limit}")
        return self.store.stream_consumers.recent(within_s=within_s, limit=limit)

    def stream_status(
        self,
        redis_url: str,
        stream: str,
        group: str | None = None,
        *,
        out_stream: str | None = None,
        dead_stream: str | None = None,
    ) -> StreamStatus:
        """Length, groups (lag, pending, consumers), and output/dead-letter lengths."""
        status: StreamStatus = _stream().read_status(
            redis_url, stream, group, out_stream=out_stream, dead_stream=dead_stream
        )
        return status

    def stream_produce(
        self,
        redis_url: str,
        stream: str,
        source: str | Path | pd.DataFrame,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> list[str]:
        """Add each row of a CSV/Parquet file or DataFrame to ``stream``; the message ids."""
        ids: list[str] = _stream().produce(redis_url, stream, source, progress=progress)
        return ids
