"""Initial schema: observations, derived state, history, delivery and coordination tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Frozen on purpose: it spells out its types instead of importing ``schema.py``, so later
changes to the tables come as new revisions and never rewrite this one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "observation",
        _id(),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("run", sa.BigInteger(), nullable=True),
        sa.Column("fact_key", sa.Text(), nullable=False),
        _time("observed_at", nullable=False),
        _time("fact_time"),
        sa.Column("fact", sa.JSON(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_observation"),
    )
    op.create_index("ix_observation_run", "observation", ["run"])
    op.create_index("ix_observation_fact_key", "observation", ["fact_key"])

    op.create_table(
        "run_state",
        sa.Column("run", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("automatic_verdict", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        _time("stop"),
        _time("lock_in_at"),
        _time("locked_at"),
        _time("released_at"),
        _time("proof_complete_at"),
        sa.Column("stale_sources", sa.JSON(), nullable=False),
        _time("verdict_since", nullable=False),
        _time("updated_at", nullable=False),
        sa.Column("assessment", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run", name="pk_run_state"),
    )
    op.create_index("ix_run_state_verdict", "run_state", ["verdict"])

    op.create_table(
        "workflow_state",
        sa.Column("run", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("workflow", sa.String(128), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        _time("state_since", nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        _time("proven_at"),
        _time("deadline"),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("optional", sa.Boolean(), nullable=False),
        sa.Column("ignored_by", sa.Text(), nullable=True),
        _time("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["run"],
            ["run_state.run"],
            name="fk_workflow_state_run_run_state",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run", "workflow", name="pk_workflow_state"),
    )
    op.create_index("ix_workflow_state_workflow_run", "workflow_state", ["workflow", "run"])

    op.create_table(
        "event",
        _id(),
        _time("at", nullable=False),
        sa.Column("run", sa.BigInteger(), nullable=True),
        sa.Column("workflow", sa.String(128), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event"),
    )
    op.create_index("ix_event_run_id", "event", ["run", "id"])

    op.create_table(
        "source_health",
        sa.Column("source", sa.String(32), nullable=False),
        _time("last_success"),
        _time("last_attempt"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _time("last_error_at"),
        sa.Column("last_error_raw", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_source_health"),
    )

    op.create_table(
        "override",
        _id(),
        sa.Column("run", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("workflow", sa.String(128), nullable=True),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        _time("created_at", nullable=False),
        _time("expires_at", nullable=False),
        _time("revoked_at"),
        sa.Column("revoked_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_override"),
    )
    op.create_index("ix_override_run", "override", ["run"])

    op.create_table(
        "audit_log",
        _id(),
        _time("at", nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )

    op.create_table(
        "outbox",
        _id(),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("run", sa.BigInteger(), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _time("created_at", nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at", nullable=False),
        sa.Column("claimed_by", sa.String(255), nullable=True),
        _time("claimed_until"),
        _time("delivered_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("channel", "idempotency_key", name="uq_outbox_channel_idempotency_key"),
    )
    op.create_index(
        "ix_outbox_channel_status_next_attempt_at",
        "outbox",
        ["channel", "status", "next_attempt_at"],
    )

    op.create_table(
        "alert",
        _id(),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("open_key", sa.String(255), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("run", sa.BigInteger(), nullable=True),
        sa.Column("workflow", sa.String(128), nullable=True),
        sa.Column("source", sa.String(32), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(32), nullable=True),
        _time("opened_at", nullable=False),
        _time("last_seen_at", nullable=False),
        _time("resolved_at"),
        sa.Column("acknowledged_by", sa.Text(), nullable=True),
        _time("acknowledged_at"),
        sa.Column("acknowledged_state", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alert"),
        sa.UniqueConstraint("open_key", name="uq_alert_open_key"),
    )
    op.create_index("ix_alert_dedupe_key", "alert", ["dedupe_key"])

    op.create_table(
        "signal",
        _id(),
        sa.Column("run", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        _time("decided_at", nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("sent", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signal"),
        sa.UniqueConstraint("idempotency_key", name="uq_signal_idempotency_key"),
    )
    op.create_index("ix_signal_run", "signal", ["run"])

    op.create_table(
        "leader",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        _time("heartbeat_at", nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leader"),
    )


def downgrade() -> None:
    for table in (
        "leader",
        "signal",
        "alert",
        "outbox",
        "audit_log",
        "override",
        "source_health",
        "event",
        "workflow_state",
        "run_state",
        "observation",
    ):
        op.drop_table(table)
