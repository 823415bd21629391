"""Rendered pages and API answers, kept until the store says something changed.

Operators leave the dashboard open on many screens, each reloading it, while the state moves
only when the engine saves a change. So a table is rendered once per (store fingerprint, view)
and served from memory until the fingerprint moves (checking it costs two index lookups) or
the entry is ``TTL_SECONDS`` old, which bounds how long a change that left no event can hide.
Nothing time-dependent is rendered into a cached table (countdowns are computed in the
browser from ``data-*`` attributes).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import func, select

from spyagency.store.schema import run_state
from spyagency.store.uow import Store, Transaction
from spyagency.web.services import ChangeFeed

Value = TypeVar("Value")
TTL_SECONDS = 10.0
# How long one look at the store's fingerprint serves every request: screens and scripts
# reloading together then cost one read, not one each (nor a pooled connection each, which
# is what queues under load). Invisible to people; changes made through this process (an
# action, the engine's batch) announce themselves on the change feed and are seen at once.
GLANCE_SECONDS = 0.25


class RenderCache(Generic[Value]):
    """A small thread-safe LRU map with an age limit; page handlers run in a thread pool."""

    def __init__(self, capacity: int = 32, ttl_seconds: float = TTL_SECONDS) -> None:
        self._capacity = capacity
        self._ttl = ttl_seconds
        self._entries: OrderedDict[Hashable, tuple[float, Value]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def peek(self, key: Hashable) -> Value | None:
        """The entry if it is fresh, else None: lets async handlers serve a hit without a
        trip through the thread pool, and build (blocking) only on a miss."""
        now = time.monotonic()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and now - found[0] < self._ttl:
                self._entries.move_to_end(key)
                self.hits += 1
                return found[1]
        return None

    def get_or_build(self, key: Hashable, build: Callable[[], Value]) -> Value:
        found = self.peek(key)
        if found is not None:
            return found
        now = time.monotonic()  # before building: an entry is as old as what it read
        with self._lock:
            self.misses += 1
        # Built outside the lock: two threads may build the same entry once; both are right.
        value = build()
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return value


def store_fingerprint(tx: Transaction) -> tuple[int, int]:
    """Moves when what a run list shows changes: every verdict, workflow-state and override
    change appends an event, and a new run changes the count. Both are index lookups (a scan
    for the newest ``updated_at`` would read every stored assessment). Changes that append no
    event (evidence wording, a corrected stop time) show when a cached entry expires."""
    count = tx.connection.execute(select(func.count()).select_from(run_state)).scalar_one()
    return (tx.events.latest_id(), int(count))


class StoreGlance:
    """The store fingerprint, read at most every ``GLANCE_SECONDS``, and again as soon as
    the change feed's generation moves (an action or the engine notified a change)."""

    def __init__(self, store: Store, changes: ChangeFeed) -> None:
        self._store = store
        self._changes = changes
        self._looks: RenderCache[tuple[int, int]] = RenderCache(1, GLANCE_SECONDS)

    def fingerprint(self) -> tuple[int, int]:
        """Blocking when the last look is stale: call it from a thread."""
        return self._looks.get_or_build(self._changes.generation, self._look)

    def recent(self) -> tuple[int, int] | None:
        """The fingerprint if the last look still holds, without touching the store."""
        return self._looks.peek(self._changes.generation)

    def _look(self) -> tuple[int, int]:
        with self._store.read() as tx:
            return store_fingerprint(tx)
