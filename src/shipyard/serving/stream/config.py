"""What one stream consumer reads, where it writes, and how it recovers.

Kept apart from the consumer so the SDK, the CLI and the status command
describe a stream the same way (names of the output and dead-letter streams,
the Redis URL with its password hidden).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from shipyard.errors import InvalidInput


def as_text(value: object) -> str:
    """A Redis reply value (bytes) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def default_consumer() -> str:
    """Stable per host: a restarted consumer finds its own pending messages again."""
    return socket.gethostname()


def redacted_redis_url(url: str) -> str:
    """The URL without its password (and user), for logs and ``--json`` output."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def out_stream_for(stream: str) -> str:
    return f"{stream}:out"


def dead_stream_for(stream: str) -> str:
    return f"{stream}:dead"


@dataclass(frozen=True)
class StreamConfig:
    """One consumer of one deployment: the Redis stream, its group and the limits."""

    redis_url: str
    stream: str
    group: str
    consumer: str = field(default_factory=default_consumer)
    out_stream: str | None = None
    dead_stream: str | None = None
    #: Messages per XREADGROUP / XAUTOCLAIM page (one model call for a full batch).
    batch: int = 100
    #: A message delivered more times than this goes to the dead-letter stream unscored.
    max_deliveries: int = 5
    #: Pending messages idle this long belong to a dead consumer and are reclaimed.
    #: A live consumer touches the messages in hand every min_idle_s / 3 (at most 5 s),
    #: so a slow batch is not taken over; a stall longer than this would be.
    min_idle_s: float = 30.0
    #: How often the PEL is scanned for messages to reclaim (default: min_idle_s / 2).
    claim_interval_s: float | None = None
    #: How long one XREADGROUP waits for new messages; bounds how fast a stop is seen.
    block_ms: int = 1000
    #: Where a group created by this consumer starts: "0" (the whole stream) or "$".
    start_id: str = "0"
    #: Batches read but not yet acknowledged (backpressure on the model and memory).
    max_in_flight: int = 2
    #: Rows one message may carry in a JSON ``inputs`` field.
    max_rows_per_message: int = 10_000
    #: How often lag and pending gauges are read from Redis.
    gauge_interval_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.stream or not self.group or not self.consumer:
            raise InvalidInput("a stream consumer needs a stream, a group and a consumer name")
        if self.batch < 1 or self.max_in_flight < 1 or self.max_deliveries < 1:
            raise InvalidInput("batch, max in-flight and max deliveries must be >= 1")
        if self.min_idle_s <= 0:
            raise InvalidInput(f"min idle must be > 0 seconds, got {self.min_idle_s}")
        if self.start_id not in ("0", "$"):
            raise InvalidInput(f"a new group starts at '0' or '$', not {self.start_id!r}")
        if not urlsplit(self.redis_url).scheme.startswith(("redis", "unix")):
            raise InvalidInput(
                f"not a Redis URL: {redacted_redis_url(self.redis_url)!r} "
                "(use redis://HOST:PORT/DB, rediss:// or unix://)"
            )

    @property
    def results(self) -> str:
        return self.out_stream or out_stream_for(self.stream)

    @property
    def dead_letters(self) -> str:
        return self.dead_stream or dead_stream_for(self.stream)

    @property
    def claim_every_s(self) -> float:
        if self.claim_interval_s is not None:
            return self.claim_interval_s
        return min(max(self.min_idle_s / 2, 0.1), 10.0)

    @property
    def safe_url(self) -> str:
        return redacted_redis_url(self.redis_url)
