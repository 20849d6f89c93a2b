"""SQL for feedback labels (upserted: a later label for the same row replaces the earlier)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from shipyard.store.audit import now_ms
from shipyard.store.database import Database
from shipyard.store.schema import Feedback

_CHUNK = 5000


class FeedbackStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, deployment: str, labels: Sequence[tuple[str, int, Any]]) -> int:
        """Store (request id, row, label) triples; returns how many."""
        insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        now = now_ms()
        with self.db.write() as session:
            for start in range(0, len(labels), _CHUNK):
                rows = [
                    {
                        "deployment": deployment,
                        "request_id": r,
                        "row": i,
                        "label": json.dumps(label),
                        "at": now,
                    }
                    for r, i, label in labels[start : start + _CHUNK]
                ]
                statement = insert(Feedback).values(rows)
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["deployment", "request_id", "row"],
                        set_={"label": statement.excluded.label, "at": statement.excluded.at},
                    )
                )
        return len(labels)

    def all_for(self, deployment: str) -> list[tuple[str, int, Any, int]]:
        with self.db.read() as session:
            return [
                (r.request_id, r.row, json.loads(r.label), r.at)
                for r in session.scalars(select(Feedback).where(Feedback.deployment == deployment))
            ]
