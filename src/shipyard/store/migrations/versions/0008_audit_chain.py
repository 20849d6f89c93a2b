"""Hash-chain the audit trail and make it append-only.

Adds ``request_id``, ``client_address``, ``prev_hash`` and ``hash`` to
``audit_events``, chains the rows already there (in id order, so ``verify``
passes on an upgraded workspace), then adds triggers that refuse UPDATE and
DELETE (and TRUNCATE on PostgreSQL).

Revision ID: 0008_audit_chain
Revises: 0007_pipelines
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from shipyard.store.audit_chain import GENESIS, HASHED_FIELDS, chain_hash

revision = "0008_audit_chain"
down_revision = "0007_pipelines"
branch_labels = None
depends_on = None

logger = logging.getLogger(__name__)

_BATCH = 1000
_REFUSED = "audit_events is append-only"

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}: UPDATE refused'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}: DELETE refused'); END",
)
_PG_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    f"RAISE EXCEPTION '{_REFUSED}: % refused', TG_OP USING ERRCODE = 'insufficient_privilege'; "
    "END $$",
    "CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
)

_audit = sa.table(
    "audit_events",
    sa.column("id", sa.Integer()),
    sa.column("at", sa.BigInteger()),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("object_type", sa.String()),
    sa.column("object_id", sa.String()),
    sa.column("details", sa.JSON()),
    sa.column("request_id", sa.String()),
    sa.column("client_address", sa.String()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("request_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("client_address", sa.String(128), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
    _chain_existing_rows(op.get_bind())
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=False)
    triggers = _PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def _chain_existing_rows(conn: sa.Connection) -> None:
    """Hash the rows in id order, a batch at a time (keyset pages, bounded memory)."""
    columns = [_audit.c[name] for name in HASHED_FIELDS]
    prev_hash, last_id, chained = GENESIS, 0, 0
    update = (
        _audit.update()
        .where(_audit.c.id == sa.bindparam("row_id"))
        .values(prev_hash=sa.bindparam("new_prev"), hash=sa.bindparam("new_hash"))
    )
    while True:
        page = conn.execute(
            sa.select(*columns).where(_audit.c.id > last_id).order_by(_audit.c.id).limit(_BATCH)
        ).mappings()
        changes = []
        for row in page:
            row_hash = chain_hash(prev_hash, row)
            changes.append({"row_id": row["id"], "new_prev": prev_hash, "new_hash": row_hash})
            prev_hash, last_id = row_hash, row["id"]
        if not changes:
            break
        conn.execute(update, changes)
        chained += len(changes)
    if chained:
        logger.info("chained %d existing audit rows", chained)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update_delete ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    with op.batch_alter_table("audit_events") as batch:
        for name in ("hash", "prev_hash", "client_address", "request_id"):
            batch.drop_column(name)
