"""Rendered pages and API answers, kept until the store says something changed.

Operators leave the dashboard open on many screens, each reloading it, while the state moves
only when the engine saves a change. So a table is rendered once per (store fingerprint, view)
and served from memory until the fingerprint moves (checking it costs two index lookups, see
``RunListRepository.fingerprint``) or the entry is ``TTL_SECONDS`` old, which bounds how long
a change that left no event can hide.
Nothing time-dependent is rendered into a cached table (countdowns are computed in the
browser from ``data-*`` attributes).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from spyagency.store.run_lists import RunListFingerprint
from spyagency.store.uow import Store
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


class StoreGlance:
    """The store fingerprint, read at most every ``GLANCE_SECONDS``, and again as soon as
    the change feed's generation moves (an action or the engine notified a change)."""

    def __init__(self, store: Store, changes: ChangeFeed) -> None:
        self._store = store
        self._changes = changes
        self._looks: RenderCache[RunListFingerprint] = RenderCache(1, GLANCE_SECONDS)

    def fingerprint(self) -> RunListFingerprint:
        """Blocking when the last look is stale: call it from a thread."""
        return self._looks.get_or_build(self._changes.generation, self._look)

    def recent(self) -> RunListFingerprint | None:
        """The fingerprint if the last look still holds, without touching the store."""
        return self._looks.peek(self._changes.generation)

    def _look(self) -> RunListFingerprint:
        with self._store.read() as tx:
            return tx.run_lists.fingerprint()
