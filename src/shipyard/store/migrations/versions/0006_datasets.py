"""Dataset versions and their expectations.

Revision ID: 0006_datasets
Revises: 0005_monitors
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_datasets"
down_revision = "0005_monitors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("profile_sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("derived", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_dataset_versions"),
        sa.UniqueConstraint("name", "sha256", name="uq_dataset_content"),
    )
    op.create_index("ix_dataset_versions_name", "dataset_versions", ["name"])
    op.create_table(
        "dataset_expectations",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dataset_expectations")
    op.drop_table("dataset_versions")
