"""Apply Alembic migrations automatically, once, even with many processes.

The fast path is one ``SELECT`` of the stored revision: when it equals
``HEAD_REVISION`` nothing else happens (Alembic is not even imported, which
keeps a cold ``load_model`` fast). Otherwise the upgrade runs under a lock —
SQLite's write lock (``BEGIN IMMEDIATE``) or a PostgreSQL advisory lock — so
several processes starting on a fresh store migrate it exactly once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from shipyard.errors import StoreError
from shipyard.store.database import Database, describe_operational_error

logger = logging.getLogger(__name__)

HEAD_REVISION = "0013_stream_consumers"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x5_41_50_59  # arbitrary, fixed advisory-lock key


def current_revision(db: Database) -> str | None:
    """The revision the store is at, or None for an empty store."""
    try:
        with db.engine.connect() as conn:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
            conn.rollback()
    except (OperationalError, ProgrammingError) as exc:
        message = str(exc).lower()
        if "alembic_version" in message and (
            "no such table" in message or "does not exist" in message
        ):
            return None
        raise StoreError(
            f"cannot open the metadata store {db.engine.url.render_as_string(hide_password=True)}: "
            f"{describe_operational_error(exc)}"
        ) from exc
    return row[0] if row else None


def upgrade(db: Database) -> None:
    """Bring the store's schema to ``HEAD_REVISION``."""
    if current_revision(db) == HEAD_REVISION:
        return
    from alembic import command  # deliberate lazy import: only needed on a schema change
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with db.write_connection() as conn:
        _lock_for_migration(db, conn)
        config.attributes["connection"] = conn
        logger.info("migrating metadata store to %s", HEAD_REVISION)
        command.upgrade(config, "head")
    if current_revision(db) != HEAD_REVISION:
        raise StoreError(
            f"store schema is at {current_revision(db)!r}, expected {HEAD_REVISION!r}; "
            "is it newer than this Shipyard?"
        )


def _lock_for_migration(db: Database, conn: Connection) -> None:
    if db.dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    # SQLite: the write connection already holds the database write lock.
