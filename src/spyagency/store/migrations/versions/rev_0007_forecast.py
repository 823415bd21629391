"""Forecasts: each open run's latest forecast and the snapshots kept to score them.

Revision ID: 0007
Revises: 0006 (the source poll history, numbered first)
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "forecast",
        sa.Column("run", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("horizon", sa.String(8), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("median", sa.DateTime(timezone=True), nullable=True),
        sa.Column("low", sa.DateTime(timezone=True), nullable=True),
        sa.Column("high", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("run", "horizon", name="pk_forecast"),
    )


def downgrade() -> None:
    op.drop_table("forecast")
