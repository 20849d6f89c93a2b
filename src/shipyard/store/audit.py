"""The audit trail: one row per mutation, in the mutation's own transaction."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shipyard.store.audit_context import actor_for
from shipyard.store.schema import AuditEvent, Base


def now_ms() -> int:
    return int(time.time() * 1000)


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    # A Core insert: the same row without an ORM object and unit-of-work flush per mutation.
    session.execute(
        insert(Base.metadata.tables["audit_events"]).values(
            at=now_ms(),
            actor=actor_for(actor),
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details or {},
        )
    )


def list_events(session: Session, *, limit: int = 100) -> list[dict[str, Any]]:
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit))
    return [
        {
            "at": row.at,
            "actor": row.actor,
            "action": row.action,
            "object_type": row.object_type,
            "object_id": row.object_id,
            "details": row.details,
        }
        for row in rows
    ]
