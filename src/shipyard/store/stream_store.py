"""SQL for stream consumers' presence: one row per (stream, group, consumer), upserted with
the consumer's gauges, so processes that only talk to Redis are visible to the server."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from shipyard.entities import StreamConsumerRecord
from shipyard.store.audit import now_ms
from shipyard.store.database import Database
from shipyard.store.schema import StreamConsumerPresence


@dataclass(frozen=True)
class ConsumerReport:
    stream: str
    group: str
    consumer: str
    deployment: str
    redis: str
    scored: int
    dead_lettered: int
    lag: int | None
    pending: int | None


def _record(row: StreamConsumerPresence) -> StreamConsumerRecord:
    return StreamConsumerRecord(
        row.stream,
        row.group,
        row.consumer,
        row.deployment,
        row.redis,
        row.scored,
        row.dead_lettered,
        row.lag,
        row.pending,
        row.started_at,
        row.seen_at,
        row.stopped_at,
    )


class StreamConsumerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def report(
        self, report: ConsumerReport, *, started: bool = False, stopped: bool = False
    ) -> None:
        """Record what the consumer says now (a restart under the same name starts afresh)."""
        now = now_ms()
        key = (report.stream, report.group, report.consumer)
        with self.db.write() as session:
            row = session.get(StreamConsumerPresence, key)
            if row is None:
                row = StreamConsumerPresence(
                    stream=report.stream,
                    group=report.group,
                    consumer=report.consumer,
                    started_at=now,
                )
                session.add(row)
            if started:
                row.started_at = now
                row.stopped_at = None
            row.deployment = report.deployment
            row.redis = report.redis
            row.scored = report.scored
            row.dead_lettered = report.dead_lettered
            row.lag = report.lag
            row.pending = report.pending
            row.seen_at = now
            if stopped:
                row.stopped_at = now

    def recent(
        self, *, within_s: float = 24 * 3600, limit: int = 100
    ) -> list[StreamConsumerRecord]:
        """Consumers that reported within ``within_s``, most recent first."""
        since = now_ms() - int(within_s * 1000)
        with self.db.read() as session:
            rows = session.scalars(
                select(StreamConsumerPresence)
                .where(StreamConsumerPresence.seen_at >= since)
                .order_by(StreamConsumerPresence.seen_at.desc())
                .limit(limit)
            ).all()
            return [_record(row) for row in rows]
