"""Prometheus metrics of a stream consumer, in the serving process's own registry.

The consumer's ``ServingMetrics`` registry holds both: the model's batch sizes,
queue waits and load times (the same series REST serving exports), and these
stream series. Lag and pending are read from Redis every few seconds.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shipyard.serving.metrics import LATENCY_BUCKETS


class StreamMetrics:
    def __init__(self, registry: CollectorRegistry, stream: str, group: str) -> None:
        labels = ["stream", "group"]
        self.messages = Counter(
            "shipyard_stream_messages",
            "Stream messages by outcome: read, scored, dead_lettered, skipped "
            "(answered by another consumer after a reclaim).",
            [*labels, "outcome"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "shipyard_stream_dead_letters",
            "Messages sent to the dead-letter stream, by reason.",
            [*labels, "reason"],
            registry=registry,
        )
        self.reclaimed = Counter(
            "shipyard_stream_reclaimed",
            "Pending messages taken over from idle consumers (XAUTOCLAIM).",
            labels,
            registry=registry,
        )
        self.batch_latency = Histogram(
            "shipyard_stream_batch_seconds",
            "From reading a batch to its results being written and acknowledged.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.lag = Gauge(
            "shipyard_stream_lag",
            "Entries in the stream not yet delivered to the group (XINFO GROUPS lag).",
            labels,
            registry=registry,
        )
        self.pending = Gauge(
            "shipyard_stream_pending",
            "Entries delivered to the group but not acknowledged.",
            labels,
            registry=registry,
        )
        self.in_flight = Gauge(
            "shipyard_stream_in_flight_batches",
            "Batches this consumer has read and not yet acknowledged.",
            labels,
            registry=registry,
        )
        key = (stream, group)
        self._read = self.messages.labels(*key, "read")
        self._scored = self.messages.labels(*key, "scored")
        self._dead = self.messages.labels(*key, "dead_lettered")
        self._skipped = self.messages.labels(*key, "skipped")
        self._key = key
        self.batch_seconds = self.batch_latency.labels(*key)
        self.lag_gauge = self.lag.labels(*key)
        self.pending_gauge = self.pending.labels(*key)
        self.in_flight_gauge = self.in_flight.labels(*key)
        self.reclaimed_count = self.reclaimed.labels(*key)

    def count(self, read: int = 0, scored: int = 0, skipped: int = 0) -> None:
        if read:
            self._read.inc(read)
        if scored:
            self._scored.inc(scored)
        if skipped:
            self._skipped.inc(skipped)

    def count_dead(self, reason: str) -> None:
        self._dead.inc()
        self.dead_letters.labels(*self._key, reason).inc()
