"""The Alembic migrations create exactly the tables of the SQLAlchemy models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from shipyard import Client
from shipyard.store import migrate
from shipyard.store.schema import Base


def test_head_revision_constant_matches_the_migration_scripts() -> None:
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_heads() == [migrate.HEAD_REVISION]


def test_migrated_schema_has_no_drift_from_the_models(client: Client) -> None:
    with client.store.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrade_is_idempotent_and_records_the_head(client: Client) -> None:
    migrate.upgrade(client.store.db)
    migrate.upgrade(client.store.db)
    assert migrate.current_revision(client.store.db) == migrate.HEAD_REVISION
