"""Which engine leads: one leader polls, judges, signals; the others stand by.

Every engine process runs ``Leadership.campaign`` once per heartbeat:

- On PostgreSQL the leader is the holder of an advisory lock (``store/advisory.py``). The
  server frees that lock the moment the holder's session dies, so after a ``kill -9`` a standby
  wins at its next heartbeat. Winning bumps the lease's epoch in the ``leader`` table.
- On SQLite (one host; several processes are possible but unusual) the lease row alone decides:
  a lease not renewed for ``ttl`` passes to the next campaigner with the next epoch.

Fencing: the engine's store runs ``fence`` first in every write transaction. It checks, with
the lease row share-locked on PostgreSQL, that this process still holds the lease at the epoch
it won. A deposed leader that has not yet noticed (a paused process, a lost session) therefore
cannot write; the first refused write raises ``Deposed`` and the next campaign steps down.

Lease times are wall-clock times even when the engine runs on a simulated clock: leadership is
about real processes.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from spyagency.store.advisory import AdvisoryLock
from spyagency.store.leader import Deposed
from spyagency.store.uow import Store, Transaction

log = logging.getLogger(__name__)
ENGINE_LEASE = "engine"


def wall_now() -> datetime:
    return datetime.now(UTC)


def holder_name() -> str:
    """Unique per process, readable in the lease row: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Leadership:
    def __init__(
        self,
        store: Store,
        *,
        heartbeat: timedelta,
        holder: str | None = None,
        name: str = ENGINE_LEASE,
        now: Callable[[], datetime] = wall_now,
    ) -> None:
        self.store = store
        self.name = name
        self.holder = holder or holder_name()
        self.heartbeat = heartbeat
        # Two missed heartbeats end a lease that no advisory lock backs.
        self.ttl = heartbeat * 2
        self._now = now
        postgres = store.engine.dialect.name == "postgresql"
        self._lock = AdvisoryLock(store.engine, name) if postgres else None
        self.epoch: int | None = None
        self._last_renewed: datetime | None = None
        # Fencing starts with the first campaign. Before it the process has taken no part in
        # any election (a replay or a one-shot command driving the evaluator directly).
        self.enforcing = False

    @property
    def leading(self) -> bool:
        return self.epoch is not None

    def campaign(self) -> bool:
        """One heartbeat: stay, become or stop being the leader. True while leading.

        A database error keeps the current role until the lease would have run out (a short
        outage should not cost a full reload); after that the process steps down.
        """
        now = self._now()
        self.enforcing = True
        try:
            self.epoch = self._campaign(now)
        except Exception as error:
            if self.epoch is not None and (
                self._last_renewed is None or now - self._last_renewed > self.ttl
            ):
                log.warning("cannot renew the %s lease (%s); stepping down", self.name, error)
                self._step_down()
            else:
                log.warning("leader campaign failed: %s", error)
            return self.leading
        if self.epoch is not None:
            self._last_renewed = now
        return self.leading

    def _campaign(self, now: datetime) -> int | None:
        if self._lock is not None and not self._lock.try_hold():
            return None
        with self.store.transaction() as tx:
            if self.epoch is not None:
                if tx.leader.heartbeat(self.name, self.holder, self.epoch, now):
                    return self.epoch
                log.warning("lost the %s lease at epoch %d", self.name, self.epoch)
            if self._lock is not None:
                # Holding the lock proves no live process leads: take the lease whatever
                # its age (our own session may have been replaced while we thought we led).
                won: int | None = tx.leader.take_over(self.name, self.holder, now)
            else:
                won = tx.leader.try_acquire(self.name, self.holder, now, self.ttl)
        if won is not None:
            log.info("leading %s at epoch %d as %s", self.name, won, self.holder)
        return won

    def fence(self, tx: Transaction) -> None:
        """Refuse the transaction unless this process still holds the lease at its epoch."""
        if not self.enforcing:
            return
        epoch = self.epoch
        if epoch is None or not tx.leader.holds(self.name, self.holder, epoch):
            raise Deposed(f"{self.holder} does not lead {self.name} (epoch {epoch})")

    def resign(self) -> None:
        """Give the lease up (at a clean shutdown) so a standby need not wait for it."""
        epoch = self.epoch
        self._step_down()
        if epoch is None:
            return
        try:
            with self.store.transaction() as tx:
                tx.leader.release(self.name, self.holder, epoch)
        except Exception as error:
            log.warning("could not release the %s lease: %s", self.name, error)

    def _step_down(self) -> None:
        self.epoch = None
        self._last_renewed = None
        if self._lock is not None:
            self._lock.release()
