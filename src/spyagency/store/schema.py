"""The tables, in SQLAlchemy Core. Migrations create exactly this (a test compares them).

Conventions: every point in time is a ``UtcDateTime``; JSON columns hold what the domain's own
encoders produce (``fact_to_dict``, ``Evidence.to_dict``, the store's codec); append-only tables
(``observation``, ``event``, ``audit_log``) have an auto-increment id that orders them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from spyagency.store.columns import Id, UtcDateTime

# Deterministic constraint names: SQLite batch migrations recreate tables and need to name
# what they copy, and autogenerate comparisons stay stable.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

observation = Table(
    "observation",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("run", BigInteger, nullable=True, index=True),
    Column("fact_key", Text, nullable=False, index=True),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("fact_time", UtcDateTime, nullable=True),
    Column("fact", JSON, nullable=False),
    Column("raw", Text, nullable=False),
)

run_state = Table(
    "run_state",
    metadata,
    Column("run", BigInteger, primary_key=True, autoincrement=False),
    Column("verdict", String(16), nullable=False, index=True),
    Column("automatic_verdict", String(16), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("stop", UtcDateTime, nullable=True),
    Column("lock_in_at", UtcDateTime, nullable=True),
    Column("locked_at", UtcDateTime, nullable=True),
    Column("released_at", UtcDateTime, nullable=True),
    Column("proof_complete_at", UtcDateTime, nullable=True),
    Column("stale_sources", JSON, nullable=False),
    Column("verdict_since", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("assessment", JSON, nullable=False),
    Column("version", Integer, nullable=False),
)

workflow_state = Table(
    "workflow_state",
    metadata,
    Column(
        "run",
        BigInteger,
        ForeignKey("run_state.run", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("workflow", String(128), primary_key=True),
    Column("state", String(32), nullable=False),
    Column("state_since", UtcDateTime, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("proven_at", UtcDateTime, nullable=True),
    Column("deadline", UtcDateTime, nullable=True),
    Column("counted", Boolean, nullable=False),
    Column("optional", Boolean, nullable=False),
    Column("ignored_by", Text, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "workflow", "run"),
)

event = Table(
    "event",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("run", BigInteger, nullable=True),
    Column("workflow", String(128), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("old", Text, nullable=True),
    Column("new", Text, nullable=True),
    Column("detail", JSON, nullable=False),
    Index(None, "run", "id"),
)

source_health = Table(
    "source_health",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("last_success", UtcDateTime, nullable=True),
    Column("last_attempt", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_error_at", UtcDateTime, nullable=True),
    Column("last_error_raw", Text, nullable=True),
    Column("consecutive_failures", Integer, nullable=False),
)

# Poll outcomes per source and hour, for the sources page's health plot: counted as the engine
# records each poll, and kept for ``poll_history.KEEP`` only, so it stays a few thousand rows.
source_poll_hour = Table(
    "source_poll_hour",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("hour", UtcDateTime, primary_key=True),
    Column("successes", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
)

override = Table(
    "override",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run", BigInteger, nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("workflow", String(128), nullable=True),
    Column("who", Text, nullable=False),
    Column("why", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("revoked_by", Text, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("detail", JSON, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("run", BigInteger, nullable=True),
    Column("idempotency_key", String(255), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_by", String(255), nullable=True),
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("channel", "idempotency_key"),
    Index(None, "channel", "status", "next_attempt_at"),
)

# ``open_key`` equals ``dedupe_key`` while the alert is open and is NULL once resolved: a plain
# unique constraint on it allows one open alert per key and any number of resolved ones (NULLs
# are distinct on both backends), without partial indexes.
alert = Table(
    "alert",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(255), nullable=False, index=True),
    Column("open_key", String(255), nullable=True, unique=True),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("run", BigInteger, nullable=True),
    Column("workflow", String(128), nullable=True),
    Column("source", String(32), nullable=True),
    Column("message", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("state", String(32), nullable=True),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("acknowledged_by", Text, nullable=True),
    Column("acknowledged_at", UtcDateTime, nullable=True),
    Column("acknowledged_state", String(32), nullable=True),
    # The engine reads the open alerts of the runs it just judged after every batch; alerts
    # of final runs can stay open for good (a missed run), so a read of all open alerts
    # would grow with history.
    Index(None, "run", "open_key"),
)

signal = Table(
    "signal",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run", BigInteger, nullable=False, index=True),
    Column("verdict", String(16), nullable=False),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("sent", Boolean, nullable=False),
)

leader = Table(
    "leader",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
)


control = Table(
    "control",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("changed_by", String(255), nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
)

# API tokens: only the SHA-256 of each token is kept, so a copy of the database grants nothing.
api_token = Table(
    "api_token",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

# What retention compaction removed from ``observation``: per (run, source), how many observations
# were dropped and the span of their ``observed_at``. Repeated compactions add to the same row.
observation_summary = Table(
    "observation_summary",
    metadata,
    Column("run", BigInteger, primary_key=True, autoincrement=False),
    Column("source", String(32), primary_key=True),
    Column("dropped", BigInteger, nullable=False),
    Column("first_observed_at", UtcDateTime, nullable=False),
    Column("last_observed_at", UtcDateTime, nullable=False),
    Column("compacted_at", UtcDateTime, nullable=False),
)

# The forecast of each run (``domain/forecast.py``): ``horizon`` is ``latest`` for the one
# the engine made last, or the moment a snapshot was kept for scoring (``stop``, ``1h``,
# ``6h`` after the run stop). ``detail`` holds the chance of a failure, the number of past
# runs behind it and the per-workflow forecasts.
forecast = Table(
    "forecast",
    metadata,
    Column("run", BigInteger, primary_key=True, autoincrement=False),
    Column("horizon", String(8), primary_key=True),
    Column("made_at", UtcDateTime, nullable=False),
    Column("median", UtcDateTime, nullable=True),
    Column("low", UtcDateTime, nullable=True),
    Column("high", UtcDateTime, nullable=True),
    Column("reason", Text, nullable=True),
    Column("detail", JSON, nullable=False),
)
