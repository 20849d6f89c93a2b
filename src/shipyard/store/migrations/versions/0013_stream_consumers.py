"""Stream consumers' presence: the dashboard lists consumers that reported lately.

Revision ID: 0013_stream_consumers
Revises: 0012_mlflow
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_stream_consumers"
down_revision = "0012_mlflow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_consumers",
        sa.Column("stream", sa.String(256), primary_key=True),
        sa.Column("group", sa.String(128), primary_key=True),
        sa.Column("consumer", sa.String(128), primary_key=True),
        sa.Column("deployment", sa.String(256), nullable=False),
        sa.Column("redis", sa.String(512), nullable=False),
        sa.Column("scored", sa.BigInteger(), nullable=False),
        sa.Column("dead_lettered", sa.BigInteger(), nullable=False),
        sa.Column("lag", sa.BigInteger(), nullable=True),
        sa.Column("pending", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("seen_at", sa.BigInteger(), nullable=False),
        sa.Column("stopped_at", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_stream_consumers_deployment", "stream_consumers", ["deployment"])
    op.create_index("ix_stream_consumers_seen_at", "stream_consumers", ["seen_at"])


def downgrade() -> None:
    op.drop_table("stream_consumers")
