"""Stream scoring: Redis Streams consumer groups served by the serving core."""

from shipyard.serving.stream.config import StreamConfig, default_consumer, redacted_redis_url
from shipyard.serving.stream.consumer import StreamConsumer, StreamCounts
from shipyard.serving.stream.errors import StreamNotFound, StreamUnavailable
from shipyard.serving.stream.producer import produce
from shipyard.serving.stream.status import StreamStatus, read_status

__all__ = [
    "StreamConfig",
    "StreamConsumer",
    "StreamCounts",
    "StreamNotFound",
    "StreamStatus",
    "StreamUnavailable",
    "default_consumer",
    "produce",
    "read_status",
    "redacted_redis_url",
]
