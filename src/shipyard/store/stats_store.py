"""SQL for serving statistics: each process writes its own rows; readers sum them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from shipyard.store.database import Database
from shipyard.store.schema import ServingStat


class StatsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def write(self, process: str, rows: list[tuple[str, str, str, int, dict[str, Any]]]) -> None:
        """Upsert this process's cumulative counters for each (deployment, subject, bucket)."""
        if not rows:
            return
        insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        values = [
            {
                "deployment": d,
                "kind": k,
                "subject": s,
                "process": process,
                "bucket": b,
                "payload": p,
            }
            for d, k, s, b, p in rows
        ]
        statement = insert(ServingStat).values(values)
        with self.db.write() as session:
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["deployment", "kind", "subject", "process", "bucket"],
                    set_={"payload": statement.excluded.payload},
                )
            )

    def read(self, deployment: str, kind: str, subject: str, since_s: int) -> list[dict[str, Any]]:
        """Payloads of every process for buckets starting at or after ``since_s``."""
        with self.db.read() as session:
            return list(
                session.scalars(
                    select(ServingStat.payload).where(
                        ServingStat.deployment == deployment,
                        ServingStat.kind == kind,
                        ServingStat.subject == subject,
                        ServingStat.bucket >= since_s,
                    )
                )
            )

    def per_minute(
        self, deployment: str, since_s: int, step_s: int = 60
    ) -> list[tuple[str, str, int, int, int]]:
        """Counts summed over processes per ``step_s`` of time, in SQL (no payload parsing):
        ``(kind, subject, step start s, a, b)`` with (requests, errors) for a version and
        (compared, agreed) for a pair, from the bucket starting at ``since_s`` on."""
        step = (ServingStat.bucket // step_s) * step_s
        payload = ServingStat.payload
        first = func.sum(
            func.coalesce(payload["requests"].as_integer(), payload["compared"].as_integer())
        )
        second = func.sum(
            func.coalesce(payload["errors"].as_integer(), payload["agreed"].as_integer())
        )
        query = (
            select(ServingStat.kind, ServingStat.subject, step, first, second)
            .where(ServingStat.deployment == deployment, ServingStat.bucket >= since_s)
            .group_by(ServingStat.kind, ServingStat.subject, step)
            .order_by(step)
        )
        with self.db.read() as session:
            return [
                (kind, subject, int(at), int(a or 0), int(b or 0))
                for kind, subject, at, a, b in session.execute(query)
            ]

    def prune(self, older_than_s: int) -> None:
        with self.db.write() as session:
            session.execute(delete(ServingStat).where(ServingStat.bucket < older_than_s))
