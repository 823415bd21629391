"""Simulated time. Two kinds of clock share one interface:

* ``ManualClock``: the driver sets or advances simulated time (fast in-process replays).
* ``ScaledClock``: sim_now = origin_sim + speed * (wall_now - origin_wall).

Served times are always simulated times. ``describe()`` is what ``GET /sim/clock`` answers, so
an agency can run a matching scaled clock.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from spyagency.simulator.timefmt import iso_micro


class SimClock(Protocol):
    def now(self) -> float: ...

    def describe(self) -> dict[str, Any]: ...


class ManualClock:
    def __init__(self, start: float) -> None:
        self._now = start
        self._guard = threading.Lock()

    def now(self) -> float:
        with self._guard:
            return self._now

    def set(self, t: float) -> None:
        with self._guard:
            if t < self._now:
                raise ValueError("simulated time never goes backwards")
            self._now = t

    def advance(self, seconds: float) -> float:
        with self._guard:
            self._now += max(0.0, seconds)
            return self._now

    def describe(self) -> dict[str, Any]:
        # A manual clock does not move by itself: speed 0, origin = the current instant.
        now = self.now()
        return {"origin_wall": time.time(), "origin_sim": now, "speed": 0.0, "now": iso_micro(now)}


class ScaledClock:
    def __init__(self, origin_sim: float, speed: float, origin_wall: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.origin_sim = origin_sim
        self.speed = speed
        self.origin_wall = time.time() if origin_wall is None else origin_wall

    def now(self) -> float:
        return self.origin_sim + self.speed * (time.time() - self.origin_wall)

    def describe(self) -> dict[str, Any]:
        return {
            "origin_wall": self.origin_wall,
            "origin_sim": self.origin_sim,
            "speed": self.speed,
            "now": iso_micro(self.now()),
        }
