"""Leases: exactly one process runs a background controller at a time.

A lease row names its holder and an expiry. Taking or renewing it is one
conditional UPDATE (or the first INSERT); when the holder stops renewing,
the lease expires and another process takes over.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from shipyard.store.audit import now_ms
from shipyard.store.database import Database
from shipyard.store.schema import Lease


class LeaseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take or renew ``name`` for ``ttl_s``; True when ``holder`` has it now."""
        now = now_ms()
        expires = now + int(ttl_s * 1000)
        try:
            with self.db.write() as session:
                result = session.execute(
                    update(Lease)
                    .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
                    .values(holder=holder, expires_at=expires)
                )
                if result.rowcount:  # type: ignore[attr-defined]
                    return True
                if session.get(Lease, name) is None:
                    session.add(Lease(name=name, holder=holder, expires_at=expires))
                    session.flush()
                    return True
                return False
        except IntegrityError:  # another process inserted it first
            return False

    def release(self, name: str, holder: str) -> None:
        with self.db.write() as session:
            session.execute(
                update(Lease).where(Lease.name == name, Lease.holder == holder).values(expires_at=0)
            )

    def holder(self, name: str) -> str | None:
        with self.db.read() as session:
            lease = session.scalars(select(Lease).where(Lease.name == name)).first()
            if lease is None or lease.expires_at < now_ms():
                return None
            return lease.holder
