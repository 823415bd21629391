"""Rendered dashboard tables, kept until the store says something changed.

Operators leave the dashboard open on many screens, each reloading it, while the state moves
only when the engine saves a change. So a table is rendered once per (store fingerprint, view)
and served from memory until the fingerprint moves; checking the fingerprint costs two tiny
queries. Nothing time-dependent is rendered into the cached part (countdowns are computed in
the browser from ``data-*`` attributes), so a cached table is never stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class RenderCache(Generic[Value]):
    """A small thread-safe LRU map; page handlers run in FastAPI's thread pool."""

    def __init__(self, capacity: int = 32) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[Hashable, Value] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_build(self, key: Hashable, build: Callable[[], Value]) -> Value:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
            self.misses += 1
        # Built outside the lock: two threads may build the same entry once; both are right.
        value = build()
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return value
