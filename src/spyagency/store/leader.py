"""Leader leases with a fencing epoch, for running several agencies against one database.

A lease is a row per role (``name``): its holder, an epoch that grows by one at every change
of holder, and the holder's last heartbeat. Everything is a compare-and-set statement, so the
database alone decides, on SQLite as on PostgreSQL. Writers that act as leader pass their
epoch along; a write carrying an older epoch than the row's comes from a deposed leader.

Holder names must be unique per process (host, pid and a random part): a holder that
re-acquires a lease it still holds keeps its epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select, update

from spyagency.store.schema import leader
from spyagency.store.upsert import insert_or_ignore

# A heartbeat this old marks a lease given up on purpose.
RELEASED_AT = datetime(1970, 1, 1, tzinfo=UTC)


class Deposed(RuntimeError):
    """A write was attempted by a process that no longer holds the lease it acts under."""


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    epoch: int
    heartbeat_at: datetime


class LeaderRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def try_acquire(self, name: str, holder: str, now: datetime, ttl: timedelta) -> int | None:
        """Take or renew the lease ``name``; the epoch held, or None if someone else holds it.

        1. No row yet: create it at epoch 1.
        2. The lease expired (no heartbeat for ``ttl``): take it over with the next epoch.
        3. ``holder`` holds it already: renew, same epoch.
        """
        values = {"name": name, "holder": holder, "epoch": 1, "heartbeat_at": now}
        if insert_or_ignore(self._connection, leader, values, ["name"]):
            return 1
        takeover = (
            update(leader)
            .where(leader.c.name == name, leader.c.heartbeat_at < now - ttl)
            .values(holder=holder, epoch=leader.c.epoch + 1, heartbeat_at=now)
            .returning(leader.c.epoch)
        )
        epoch = self._connection.execute(takeover).scalar()
        if epoch is not None:
            return int(epoch)
        renewal = (
            update(leader)
            .where(leader.c.name == name, leader.c.holder == holder)
            .values(heartbeat_at=now)
            .returning(leader.c.epoch)
        )
        epoch = self._connection.execute(renewal).scalar()
        return int(epoch) if epoch is not None else None

    def take_over(self, name: str, holder: str, now: datetime) -> int:
        """Become the holder with the next epoch, whoever held the lease before.

        Only for a caller that has proved exclusivity another way (a PostgreSQL advisory lock,
        which the server frees when its holder's session dies).
        """
        values = {"name": name, "holder": holder, "epoch": 1, "heartbeat_at": now}
        if insert_or_ignore(self._connection, leader, values, ["name"]):
            return 1
        statement = (
            update(leader)
            .where(leader.c.name == name)
            .values(holder=holder, epoch=leader.c.epoch + 1, heartbeat_at=now)
            .returning(leader.c.epoch)
        )
        return int(self._connection.execute(statement).scalar_one())

    def holds(self, name: str, holder: str, epoch: int) -> bool:
        """Whether ``holder`` still holds ``name`` at ``epoch``: the fencing check.

        On PostgreSQL the row is share-locked until the transaction ends, so a take-over (an
        UPDATE of the row) waits for the fenced writes in flight; after it, the deposed
        holder's next transaction fails this check. SQLite has a single writer anyway.
        """
        query = (
            select(leader.c.holder, leader.c.epoch)
            .where(leader.c.name == name)
            .with_for_update(read=True)
        )
        row = self._connection.execute(query).first()
        return row is not None and row.holder == holder and int(row.epoch) == epoch

    def heartbeat(self, name: str, holder: str, epoch: int, now: datetime) -> bool:
        """Keep the lease alive; False means ``holder`` lost it and must stop acting as leader."""
        statement = (
            update(leader)
            .where(leader.c.name == name, leader.c.holder == holder, leader.c.epoch == epoch)
            .values(heartbeat_at=now)
        )
        return self._connection.execute(statement).rowcount == 1

    def release(self, name: str, holder: str, epoch: int) -> bool:
        """Give the lease up so another process need not wait for it to expire. The row stays,
        so the next leader still gets a higher epoch."""
        statement = (
            update(leader)
            .where(leader.c.name == name, leader.c.holder == holder, leader.c.epoch == epoch)
            .values(heartbeat_at=RELEASED_AT)
        )
        return self._connection.execute(statement).rowcount == 1

    def current(self, name: str) -> Lease | None:
        row = self._connection.execute(select(leader).where(leader.c.name == name)).mappings()
        found = row.first()
        if found is None:
            return None
        return Lease(found["name"], found["holder"], int(found["epoch"]), found["heartbeat_at"])
