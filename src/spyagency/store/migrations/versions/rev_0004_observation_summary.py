"""Retention: per-(run, source) summaries of the observations that compaction removed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "observation_summary",
        sa.Column("run", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("dropped", sa.BigInteger(), nullable=False),
        sa.Column("first_observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("compacted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run", "source", name="pk_observation_summary"),
    )


def downgrade() -> None:
    op.drop_table("observation_summary")
