"""Monitors, their result time series, and alerts.

Revision ID: 0005_monitors
Revises: 0004_feedback
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_monitors"
down_revision = "0004_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("deployment", sa.String(256), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("last_run_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "monitor_results",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("monitor", sa.String(256), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("metric", sa.String(128), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    op.create_index("ix_monitor_results_monitor_at", "monitor_results", ["monitor", "at"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("monitor", sa.String(256), nullable=False),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("fired_at", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_alerts_monitor_rule_status", "alerts", ["monitor", "rule", "status"])


def downgrade() -> None:
    for table in ("alerts", "monitor_results", "monitors"):
        op.drop_table(table)
