"""Feedback labels joined to logged predictions by request id.

Revision ID: 0004_feedback
Revises: 0003_rollouts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_feedback"
down_revision = "0003_rollouts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("deployment", sa.String(256), primary_key=True),
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("row", sa.Integer(), primary_key=True),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_feedback_at", "feedback", ["at"])


def downgrade() -> None:
    op.drop_table("feedback")
