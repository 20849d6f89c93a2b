"""MLflow tracking API: soft-deleted experiments and runs, experiment tags, logged models.

Revision ID: 0012_mlflow
Revises: 0011_experiments
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_mlflow"
down_revision = "0011_experiments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(
            sa.Column("lifecycle_stage", sa.String(16), nullable=False, server_default="active")
        )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("lifecycle_stage", sa.String(16), nullable=False, server_default="active")
        )
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiments.id"), primary_key=True),
        sa.Column("key", sa.String(256), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "logged_models",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiments.id"), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("source_run_id", sa.String(32), nullable=True),
        sa.Column("model_type", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False, server_default="active"),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_logged_models_experiment_id", "logged_models", ["experiment_id"])
    op.create_table(
        "logged_model_files",
        sa.Column("model_id", sa.String(64), sa.ForeignKey("logged_models.id"), primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("logged_model_files")
    op.drop_index("ix_logged_models_experiment_id", "logged_models")
    op.drop_table("logged_models")
    op.drop_table("experiment_tags")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("lifecycle_stage")
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("lifecycle_stage")
