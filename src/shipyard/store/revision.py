"""The store revision: bumped in every transaction that changes what is served."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shipyard.store.database import Database
from shipyard.store.schema import StoreRevision


def bump_revision(session: Session) -> None:
    session.execute(
        update(StoreRevision)
        .where(StoreRevision.id == 1)
        .values(revision=StoreRevision.revision + 1)
    )


def read_revision(db: Database) -> int:
    with db.read() as session:
        return int(
            session.scalars(select(StoreRevision.revision).where(StoreRevision.id == 1)).one()
        )
