"""A/B experiments, bandit weight history, and business outcomes in feedback.

Revision ID: 0011_experiments
Revises: 0010_batch_jobs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_experiments"
down_revision = "0010_batch_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Feedback may now carry outcomes without a label (and a label without outcomes).
    with op.batch_alter_table("feedback") as batch:
        batch.alter_column("label", existing_type=sa.Text(), nullable=True)
        batch.add_column(sa.Column("outcome", sa.JSON(), nullable=True))
    op.create_table(
        "ab_experiments",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("deployment", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("original_policy", sa.JSON(), nullable=False),
        sa.Column("started_by", sa.String(128), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("stopped_by", sa.String(128), nullable=True),
        sa.Column("stopped_at", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
    )
    op.create_index("ix_ab_experiments_deployment", "ab_experiments", ["deployment"])
    op.create_index("ix_ab_experiments_status", "ab_experiments", ["status"])
    op.create_table(
        "ab_weights",
        sa.Column(
            "experiment",
            sa.String(128),
            sa.ForeignKey("ab_experiments.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("at", sa.BigInteger(), primary_key=True),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("rewards", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ab_weights")
    op.drop_table("ab_experiments")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("outcome")
        batch.alter_column("label", existing_type=sa.Text(), nullable=False)
