"""The Alembic migrations create exactly the tables of the SQLAlchemy models."""

from __future__ import annotations

import json

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.store import migrate
from shipyard.store.database import Database
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


def test_upgrade_chains_the_audit_rows_already_there(settings: StoreSettings) -> None:
    """A workspace at 0007 with audit rows (and an id gap, as PostgreSQL sequences leave
    after a rollback) verifies after the upgrade, and new rows chain onto the old ones."""
    settings.home.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_db_url())
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS_DIR))
    with db.write_connection() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0007_pipelines")
    with db.engine.begin() as conn:
        for row_id, actor in ((1, "ann"), (2, "bob"), (5, "cy")):
            conn.execute(
                text(
                    "INSERT INTO audit_events (id, at, actor, action, object_type, object_id, "
                    "details) VALUES (:id, :at, :actor, 'alias.set', 'model', 'm', :details)"
                ),
                {
                    "id": row_id,
                    "at": 1_700_000_000_000 + row_id,
                    "actor": actor,
                    "details": json.dumps({"alias": "champion", "version": row_id}),
                },
            )
    db.dispose()
    with Client(settings=settings) as client:
        assert migrate.current_revision(client.store.db) == migrate.HEAD_REVISION
        check = client.verify_audit()
        assert check.ok and check.rows_checked == 3
        assert [e.actor for e in client.audit_log()] == ["cy", "bob", "ann"]
        client.add_webhook("https://example.com/after-upgrade")
        assert client.audit_log(limit=1)[0].id == 6
        assert client.verify_audit().rows_checked == 4
        with pytest.raises(DBAPIError, match="append-only"), client.store.db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events WHERE id = 2"))
