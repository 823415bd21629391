"""Time as a port, so rules can be evaluated at any moment (replays, tests, scaled demos)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that can tell the current time (always timezone-aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock that only moves when told to: replays and tests."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta

    def set(self, moment: datetime) -> None:
        self.current = moment


@dataclass(frozen=True)
class ScaledClock:
    """Wall time sped up: ``sim = origin_sim + speed * (wall - origin_wall)``.

    The demo simulator runs a day in minutes; an agency using the same origin and speed sees
    the same "now" as the simulated world, so every deadline stays coherent.
    """

    origin_wall: float
    origin_sim: float
    speed: float
    wall: WallTime = field(default_factory=lambda: time.time)

    def now(self) -> datetime:
        simulated = self.origin_sim + self.speed * (self.wall() - self.origin_wall)
        return datetime.fromtimestamp(simulated, UTC)


class WallTime(Protocol):
    def __call__(self) -> float: ...


def utc(moment: datetime) -> datetime:
    """Normalise to an aware UTC datetime; naive values are taken as UTC (as stored by SQLite)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
