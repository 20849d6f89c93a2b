"""Alembic environment: runs on the connection that ``shipyard.store.migrate`` locked."""

from __future__ import annotations

from alembic import context

from shipyard.store.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by running alembic by hand
    raise RuntimeError("run migrations through shipyard.store.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    transactional_ddl=True,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
