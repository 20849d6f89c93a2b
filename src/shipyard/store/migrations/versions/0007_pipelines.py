"""Pipelines, their triggers, runs and steps.

Revision ID: 0007_pipelines
Revises: 0006_datasets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_pipelines"
down_revision = "0006_datasets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "pipeline_triggers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pipeline", sa.String(256), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("last_fired_at", sa.BigInteger(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.UniqueConstraint("pipeline", "key", name="uq_pipeline_triggers"),
    )
    op.create_index("ix_pipeline_triggers_pipeline", "pipeline_triggers", ["pipeline"])
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pipeline", sa.String(256), nullable=False),
        sa.Column("pipeline_version", sa.Integer(), nullable=False),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("trigger_id", sa.Integer(), nullable=True),
        sa.Column("trigger_key", sa.String(128), nullable=True),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("waiting", sa.JSON(), nullable=False),
        sa.Column("worker", sa.String(128), nullable=False),
        sa.Column("heartbeat_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("trigger_id", "trigger_key", name="uq_pipeline_runs_trigger"),
    )
    op.create_index("ix_pipeline_runs_pipeline", "pipeline_runs", ["pipeline"])
    op.create_index("ix_pipeline_runs_status", "pipeline_runs", ["status"])
    op.create_table(
        "pipeline_steps",
        sa.Column("run_id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("pipeline", sa.String(256), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("cache_key", sa.String(64), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("logs", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_pipeline_steps_cache", "pipeline_steps", ["pipeline", "name", "cache_key"])


def downgrade() -> None:
    for table in ("pipeline_steps", "pipeline_runs", "pipeline_triggers", "pipelines"):
        op.drop_table(table)
