"""SQL for webhook subscriptions."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select

from shipyard.errors import NotFound
from shipyard.store.audit import now_ms, record_event
from shipyard.store.database import Database
from shipyard.store.schema import AuditEvent, Webhook


def redacted_url(url: str) -> str:
    """The URL's scheme and host only: webhook URLs often carry their secret in the
    path (Slack's ``/services/T…/B…/token``), the query or the user-info, and what
    is recorded in audit rows and logs must not reveal it."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    rest = "/…" if (parts.path.strip("/") or parts.query or parts.username) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def url_fingerprint(url: str) -> str:
    """A short digest that tells two URLs apart without showing either."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


class WebhookStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, url: str, events: list[str], *, actor: str) -> int:
        with self.db.write() as session:
            row = Webhook(url=url, events=events, created_at=now_ms())
            session.add(row)
            session.flush()
            record_event(
                session,
                actor=actor,
                action="webhook.add",
                object_type="webhook",
                object_id=str(row.id),
                details={
                    "url": redacted_url(url),
                    "url_sha256": url_fingerprint(url),
                    "events": events,
                },
            )
            return row.id

    def remove(self, webhook_id: int, *, actor: str) -> None:
        with self.db.write() as session:
            if session.get(Webhook, webhook_id) is None:
                raise NotFound(f"webhook {webhook_id} does not exist")
            session.execute(delete(Webhook).where(Webhook.id == webhook_id))
            record_event(
                session,
                actor=actor,
                action="webhook.remove",
                object_type="webhook",
                object_id=str(webhook_id),
                details={},
            )

    def list(self) -> list[tuple[int, str, list[str]]]:
        with self.db.read() as session:
            return [
                (w.id, w.url, list(w.events))
                for w in session.scalars(select(Webhook).order_by(Webhook.id))
            ]


class EventFeed:
    """Audit events after a cursor: what webhooks are sent."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def last_id(self) -> int:
        with self.db.read() as session:
            return int(session.scalar(select(func.max(AuditEvent.id))) or 0)

    def after(self, last_id: int, limit: int = 500) -> list[dict[str, Any]]:
        with self.db.read() as session:
            rows = session.scalars(
                select(AuditEvent)
                .where(AuditEvent.id > last_id)
                .order_by(AuditEvent.id)
                .limit(limit)
            )
            return [
                {
                    "id": r.id,
                    "at": r.at,
                    "actor": r.actor,
                    "action": r.action,
                    "object_type": r.object_type,
                    "object_id": r.object_id,
                    "details": r.details,
                }
                for r in rows
            ]
