"""``stream status``: a stream's length, its groups' lag and pending, each consumer's
share, and how long the output and dead-letter streams are. Read-only."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shipyard.serving.stream.config import (
    as_text,
    dead_stream_for,
    out_stream_for,
    redacted_redis_url,
)
from shipyard.serving.stream.errors import StreamNotFound, StreamUnavailable


@dataclass(frozen=True)
class ConsumerStatus:
    name: str
    pending: int
    idle_ms: int


@dataclass(frozen=True)
class GroupStatus:
    name: str
    lag: int | None
    pending: int
    last_delivered_id: str
    entries_read: int | None
    consumers: list[ConsumerStatus] = field(default_factory=list)


@dataclass(frozen=True)
class StreamStatus:
    redis: str
    stream: str
    length: int
    groups: list[GroupStatus]
    out_stream: str
    out_length: int
    dead_stream: str
    dead_length: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_status(
    redis_url: str,
    stream: str,
    group: str | None = None,
    *,
    out_stream: str | None = None,
    dead_stream: str | None = None,
) -> StreamStatus:
    """The stream's state now; ``group`` narrows the groups shown to one."""
    safe = redacted_redis_url(redis_url)
    client = redis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=10)
    out_stream = out_stream or out_stream_for(stream)
    dead_stream = dead_stream or dead_stream_for(stream)
    try:
        if not client.exists(stream):
            raise StreamNotFound(stream)
        groups = []
        for info in client.xinfo_groups(stream):
            name = as_text(info["name"])
            if group is not None and name != group:
                continue
            consumers = [
                ConsumerStatus(as_text(c["name"]), int(c["pending"]), int(c["idle"]))
                for c in client.xinfo_consumers(stream, name)
            ]
            groups.append(
                GroupStatus(
                    name,
                    info.get("lag"),
                    int(info["pending"]),
                    as_text(info["last-delivered-id"]),
                    info.get("entries-read"),
                    consumers,
                )
            )
        if group is not None and not groups:
            raise StreamNotFound(stream, group)
        return StreamStatus(
            safe,
            stream,
            int(client.xlen(stream)),
            groups,
            out_stream,
            int(client.xlen(out_stream)),
            dead_stream,
            int(client.xlen(dead_stream)),
        )
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise StreamUnavailable(f"cannot reach Redis at {safe}: {exc}") from exc
    finally:
        client.close()
