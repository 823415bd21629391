"""Confirming an answer before a spy treats it as final.

A spy stops asking for an answer that can no longer change (ADR 9), but only once two readings
in a row agree: one garbled answer (a truncated or rewritten document that still parses) must
never become final. The first reading waits here for the next; memory follows the open runs.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SecondReadings(Generic[K, V]):
    """Readings taken once, each waiting for the next reading of the same key."""

    def __init__(self, run_of: Callable[[K], int]) -> None:
        self._run_of = run_of
        self._first: dict[K, V] = {}

    def agree(self, key: K, value: V) -> bool:
        """True when ``value`` repeats the reading before it; else it waits for the next."""
        if key in self._first and self._first.pop(key) == value:
            return True
        self._first[key] = value
        return False

    def keep_runs(self, runs: Iterable[int]) -> None:
        """Forget the readings of runs not in ``runs`` (runs that left the scope)."""
        kept = set(runs)
        self._first = {k: v for k, v in self._first.items() if self._run_of(k) in kept}
