"""SQL for feedback: labels and business outcomes per predicted row.

Upserted and merged: a later label for the same row replaces the earlier one, a
feedback item without a label keeps the one stored, and outcomes merge by name
(``{"clicked": 1}`` then ``{"revenue": 12.5}`` keeps both).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from shipyard.store.audit import now_ms
from shipyard.store.database import Database
from shipyard.store.schema import Feedback

_CHUNK = 2000


@dataclass(frozen=True)
class FeedbackItem:
    """One row's feedback: ``has_label`` tells an absent label from a ``None`` one."""

    request_id: str
    row: int
    label: Any = None
    has_label: bool = True
    outcome: dict[str, float] | None = None


@dataclass(frozen=True)
class FeedbackRow:
    request_id: str
    row: int
    label: Any  # None when only outcomes arrived
    at: int
    outcome: dict[str, float] | None


class FeedbackStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, deployment: str, items: Sequence[FeedbackItem]) -> int:
        """Store feedback items (merged into what is stored); returns how many."""
        insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        now = now_ms()
        with self.db.write() as session:
            for start in range(0, len(items), _CHUNK):
                chunk = items[start : start + _CHUNK]
                stored = self._outcomes(session, deployment, chunk)
                merged: dict[tuple[str, int], dict[str, Any]] = {}
                for item in chunk:
                    key = (item.request_id, item.row)
                    row = merged.get(key)
                    if row is None:
                        row = merged[key] = {
                            "deployment": deployment,
                            "request_id": item.request_id,
                            "row": item.row,
                            "label": None,
                            "outcome": stored.get(key),
                            "at": now,
                        }
                    if item.has_label:
                        row["label"] = json.dumps(item.label)
                    if item.outcome:
                        row["outcome"] = {**(row["outcome"] or {}), **item.outcome}
                statement = insert(Feedback).values(list(merged.values()))
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["deployment", "request_id", "row"],
                        set_={
                            "label": func.coalesce(statement.excluded.label, Feedback.label),
                            "outcome": func.coalesce(statement.excluded.outcome, Feedback.outcome),
                            "at": statement.excluded.at,
                        },
                    )
                )
        return len(items)

    @staticmethod
    def _outcomes(
        session: Any, deployment: str, chunk: Sequence[FeedbackItem]
    ) -> dict[tuple[str, int], dict[str, Any]]:
        """The stored outcomes of the chunk's rows (locked on PostgreSQL until commit)."""
        keys = {(i.request_id, i.row) for i in chunk if i.outcome}
        if not keys:
            return {}
        query = (
            select(Feedback.request_id, Feedback.row, Feedback.outcome)
            .where(Feedback.deployment == deployment)
            .where(tuple_(Feedback.request_id, Feedback.row).in_(sorted(keys)))
            .with_for_update()
        )
        return {(r, i): dict(o) for r, i, o in session.execute(query) if o}

    def all_for(self, deployment: str, *, since_ms: int | None = None) -> list[FeedbackRow]:
        """Every feedback row of the deployment (only those written since ``since_ms``)."""
        query = select(Feedback).where(Feedback.deployment == deployment)
        if since_ms is not None:
            query = query.where(Feedback.at >= since_ms)
        with self.db.read() as session:
            return [
                FeedbackRow(
                    r.request_id,
                    r.row,
                    json.loads(r.label) if r.label is not None else None,
                    r.at,
                    dict(r.outcome) if r.outcome else None,
                )
                for r in session.scalars(query)
            ]

    def labels_for(
        self, deployment: str, keys: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], Any]:
        """The labels that arrived for these (request id, row) keys (absent: none yet)."""
        wanted = set(keys)
        if not wanted:
            return {}
        query = select(Feedback.request_id, Feedback.row, Feedback.label).where(
            Feedback.deployment == deployment,
            Feedback.request_id.in_(sorted({r for r, _ in wanted})),
            Feedback.label.is_not(None),
        )
        with self.db.read() as session:
            return {
                (r, i): json.loads(label or "null")
                for r, i, label in session.execute(query)
                if (r, i) in wanted
            }

    def count(self, deployment: str) -> int:
        """How many rows of the deployment have feedback (a label, outcomes or both)."""
        query = select(func.count()).where(Feedback.deployment == deployment)
        with self.db.read() as session:
            return int(session.scalar(query) or 0)
