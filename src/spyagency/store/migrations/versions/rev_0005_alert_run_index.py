"""Alerts: an index on (run, open_key), for the open alerts of the runs a batch judged.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_alert_run_open_key", "alert", ["run", "open_key"])


def downgrade() -> None:
    op.drop_index("ix_alert_run_open_key", table_name="alert")
