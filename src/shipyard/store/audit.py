"""The audit trail: one hash-chained row per mutation, in the mutation's own transaction.

Appending reads the chain head and links the new row to it, so two writers
must never read the same head. SQLite write transactions already hold the
database write lock (``BEGIN IMMEDIATE``, see ``database``); on PostgreSQL
``record_event`` takes a transaction-scoped advisory lock (one per schema)
before reading the head, released at commit or rollback. Under READ
COMMITTED (the default) the head ``SELECT`` that follows the lock sees the
previous holder's committed row. The primary key is the backstop: a second
row with the same id fails instead of forking the chain.

The lock serializes audited transactions from the moment they append until
they commit, so call ``record_event`` as the transaction's last write.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from shipyard.store.audit_chain import GENESIS, AuditHead, chain_hash, normalized
from shipyard.store.audit_context import current_audit_context
from shipyard.store.schema import AuditEvent, Base

AUDIT_TABLE = Base.metadata.tables["audit_events"]
_PG_CHAIN_LOCK = 0x41554454  # "AUDT": the advisory-lock class; the schema picks the key
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:cls, hashtext(current_schema()))")
_HEAD = select(AUDIT_TABLE.c.id, AUDIT_TABLE.c.hash).order_by(AUDIT_TABLE.c.id.desc()).limit(1)
_INSERT = insert(AUDIT_TABLE)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class AuditEntry:
    """One audit row as callers see it (hashes left out: ``verify`` is for those)."""

    id: int
    at: int
    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    request_id: str | None
    client_address: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
    client_address: str | None = None,
) -> int:
    """Append one row to the chain; returns its id.

    ``request_id`` and ``client_address`` default to the current
    ``audit_context``; its ``actor``, when set, overrides ``actor``.
    """
    context = current_audit_context()
    # Core statements built once, on the session's connection: this runs on every
    # mutation, and the ORM execute path and per-call ``.values()`` doubled its cost.
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_LOCK, {"cls": _PG_CHAIN_LOCK})
    # SQLite: the write transaction (BEGIN IMMEDIATE) already holds the database lock.
    head = conn.execute(_HEAD).first()
    prev_hash = head.hash if head is not None else GENESIS
    row: dict[str, Any] = {
        "id": head.id + 1 if head is not None else 1,
        "at": now_ms(),
        "actor": context.actor or actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "details": normalized(details),
        "request_id": request_id or context.request_id,
        "client_address": client_address or context.client_address,
    }
    conn.execute(_INSERT, {**row, "prev_hash": prev_hash, "hash": chain_hash(prev_hash, row)})
    return int(row["id"])


def list_events(
    session: Session,
    *,
    limit: int = 100,
    offset: int = 0,
    since_ms: int | None = None,
    until_ms: int | None = None,
    actor: str | None = None,
    action_prefix: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
) -> list[AuditEntry]:
    """The newest matching rows first, ``offset`` rows skipped (a page); ``since_ms``
    inclusive, ``until_ms`` exclusive."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if offset:
        query = query.offset(offset)
    if since_ms is not None:
        query = query.where(AuditEvent.at >= since_ms)
    if until_ms is not None:
        query = query.where(AuditEvent.at < until_ms)
    if object_type is not None:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == object_id)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if action_prefix:
        query = query.where(AuditEvent.action.startswith(action_prefix, autoescape=True))
    return [
        AuditEntry(
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            object_type=row.object_type,
            object_id=row.object_id,
            details=row.details,
            request_id=row.request_id,
            client_address=row.client_address,
        )
        for row in session.scalars(query)
    ]


def chain_head(session: Session) -> AuditHead | None:
    """The newest row's id and hash, or None for an empty trail."""
    row = session.execute(
        select(AuditEvent.id, AuditEvent.hash, AuditEvent.at)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    return AuditHead(id=row.id, hash=row.hash, at=row.at) if row is not None else None


def count_events(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
