"""The outbox: every message to the outside world is written here, in the transaction that
decided it, and delivered afterwards by senders that claim rows.

A claim is a lease: ``claimed_by`` / ``claimed_until``. A sender that dies leaves its rows to
be claimed again once the lease runs out, so delivery is at-least-once and receivers dedupe by
the idempotency key. Claiming never hands one row to two senders at once:

- PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` picks rows no other claimer holds, then
  an UPDATE stamps the lease in the same transaction.
- SQLite: one compare-and-set ``UPDATE ... WHERE <lease free> ... RETURNING``; SQLite runs one
  writer at a time, so the condition is checked and the lease stamped atomically.

Signals to the Tier-0 are claimed in run order (the Tier-0 locks runs in order); everything
else in id order.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, case, func, or_, select, update
from sqlalchemy.sql import ColumnElement

from spyagency.store.schema import outbox
from spyagency.store.upsert import insert_or_ignore

SIGNAL_KIND = "signal"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # the last attempt failed; retried at next_attempt_at
    DEAD = "dead"  # failed permanently; an operator must look
    DRY_RUN = "dry_run"  # recorded only: the agency runs in dry-run mode


UNDELIVERED = (OutboxStatus.PENDING.value, OutboxStatus.FAILED.value)


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    channel: str
    kind: str
    run: int | None
    idempotency_key: str
    payload: dict[str, Any]
    created_at: datetime
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    claimed_until: datetime | None
    delivered_at: datetime | None
    last_error: str | None


class OutboxRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def enqueue(
        self,
        channel: str,
        kind: str,
        run: int | None,
        idempotency_key: str,
        payload: dict[str, Any],
        now: datetime,
        *,
        dry_run: bool = False,
    ) -> bool:
        """Queue a message; False (and nothing written) if the channel already has the key."""
        status = OutboxStatus.DRY_RUN if dry_run else OutboxStatus.PENDING
        values = {
            "channel": channel,
            "kind": kind,
            "run": run,
            "idempotency_key": idempotency_key,
            "payload": payload,
            "created_at": now,
            "status": status.value,
            "attempts": 0,
            "next_attempt_at": now,
        }
        return insert_or_ignore(
            self._connection, outbox, values, conflict_columns=["channel", "idempotency_key"]
        )

    def claim(
        self, channel: str, worker: str, now: datetime, lease: timedelta, limit: int = 10
    ) -> builtins.list[OutboxMessage]:
        """Lease up to ``limit`` due, undelivered messages of ``channel`` to ``worker``."""
        due = (
            outbox.c.channel == channel,
            outbox.c.status.in_(UNDELIVERED),
            outbox.c.next_attempt_at <= now,
            _lease_free(now),
        )
        candidates = select(outbox.c.id).where(*due).order_by(*_delivery_order()).limit(limit)
        stamp = {"claimed_by": worker, "claimed_until": now + lease}
        if self._connection.dialect.name == "postgresql":
            ids = list(
                self._connection.execute(candidates.with_for_update(skip_locked=True)).scalars()
            )
            if not ids:
                return []
            statement = update(outbox).where(outbox.c.id.in_(ids)).values(stamp)
        else:
            statement = (
                update(outbox)
                .where(outbox.c.id.in_(candidates.scalar_subquery()), *due)
                .values(stamp)
            )
        rows = self._connection.execute(statement.returning(*outbox.c)).mappings()
        return sorted((_from_row(row) for row in rows), key=_delivery_key)

    def mark_delivered(self, message_id: int, now: datetime, worker: str | None = None) -> bool:
        """Record a delivery; with ``worker``, only if that worker still holds the lease."""
        return self._finish(
            message_id, worker, status=OutboxStatus.DELIVERED, delivered_at=now, last_error=None
        )

    def mark_failed(
        self,
        message_id: int,
        now: datetime,
        error: str,
        retry_at: datetime | None,
        worker: str | None = None,
    ) -> bool:
        """Record a failed attempt: retried at ``retry_at``, or dead (permanent) when None."""
        if retry_at is None:
            return self._finish(message_id, worker, status=OutboxStatus.DEAD, last_error=error)
        return self._finish(
            message_id,
            worker,
            status=OutboxStatus.FAILED,
            next_attempt_at=max(retry_at, now),
            last_error=error,
        )

    def release(
        self, message_id: int, worker: str, retry_at: datetime, reason: str | None = None
    ) -> bool:
        """Hand a claimed message back untried (held back, not failed): no attempt is counted,
        and it is due again at ``retry_at``. Only the worker holding the lease may."""
        statement = (
            update(outbox)
            .where(
                outbox.c.id == message_id,
                outbox.c.status.in_(UNDELIVERED),
                outbox.c.claimed_by == worker,
            )
            .values(claimed_by=None, claimed_until=None, next_attempt_at=retry_at)
        )
        if reason is not None:
            statement = statement.values(last_error=reason)
        return self._connection.execute(statement).rowcount == 1

    def undelivered_before(self, channel: str, run: int, message_id: int) -> bool:
        """Whether a signal of ``channel`` for a lower run (or an older one for the same run)
        is still undelivered: the Tier-0 locks in run order, so this one must wait for it."""
        earlier = or_(
            outbox.c.run < run,
            and_(outbox.c.run == run, outbox.c.id < message_id),
        )
        query = (
            select(outbox.c.id)
            .where(
                outbox.c.channel == channel,
                outbox.c.kind == SIGNAL_KIND,
                outbox.c.status.in_(UNDELIVERED),
                earlier,
            )
            .limit(1)
        )
        return self._connection.execute(query).first() is not None

    def pending_count(self, channel: str | None = None) -> int:
        """Messages still to deliver (pending, or failed and waiting for a retry)."""
        query = select(func.count()).select_from(outbox).where(outbox.c.status.in_(UNDELIVERED))
        if channel is not None:
            query = query.where(outbox.c.channel == channel)
        return int(self._connection.execute(query).scalar_one())

    def get(self, message_id: int) -> OutboxMessage | None:
        row = self._connection.execute(select(outbox).where(outbox.c.id == message_id))
        found = row.mappings().first()
        return _from_row(found) if found is not None else None

    def list(
        self, status: OutboxStatus | None = None, limit: int = 100, channel: str | None = None
    ) -> builtins.list[OutboxMessage]:
        """Newest first, optionally of one status and channel."""
        query = select(outbox)
        if status is not None:
            query = query.where(outbox.c.status == status.value)
        if channel is not None:
            query = query.where(outbox.c.channel == channel)
        query = query.order_by(outbox.c.id.desc()).limit(limit)
        return [_from_row(row) for row in self._connection.execute(query).mappings()]

    def _finish(self, message_id: int, worker: str | None, **values: Any) -> bool:
        statement = (
            update(outbox)
            .where(outbox.c.id == message_id, outbox.c.status.in_(UNDELIVERED))
            .values(
                attempts=outbox.c.attempts + 1,
                claimed_by=None,
                claimed_until=None,
                **{k: v.value if isinstance(v, OutboxStatus) else v for k, v in values.items()},
            )
        )
        if worker is not None:
            statement = statement.where(outbox.c.claimed_by == worker)
        return self._connection.execute(statement).rowcount == 1


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now)


def _delivery_order() -> tuple[Any, ...]:
    signal_run = case((outbox.c.kind == SIGNAL_KIND, outbox.c.run), else_=None)
    return (signal_run.asc().nulls_last(), outbox.c.id)


def _delivery_key(message: OutboxMessage) -> tuple[bool, int, int]:
    is_signal = message.kind == SIGNAL_KIND
    return (not is_signal, (message.run or 0) if is_signal else 0, message.id)


def _from_row(row: RowMapping) -> OutboxMessage:
    return OutboxMessage(
        id=int(row["id"]),
        channel=row["channel"],
        kind=row["kind"],
        run=row["run"],
        idempotency_key=row["idempotency_key"],
        payload=row["payload"],
        created_at=row["created_at"],
        status=OutboxStatus(row["status"]),
        attempts=int(row["attempts"]),
        next_attempt_at=row["next_attempt_at"],
        claimed_by=row["claimed_by"],
        claimed_until=row["claimed_until"],
        delivered_at=row["delivered_at"],
        last_error=row["last_error"],
    )
