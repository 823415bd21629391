"""Release delay per week of run stop: how many runs were released, how many early, and the
median and longest delay, against the Tier-0's timer.

A week starts on Monday 00:00 UTC (ISO weeks), the week of the run's stop.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from spyagency.domain.clock import utc

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Release:
    """One released run: when it stopped and when PromptReco was released."""

    run: int
    stop: datetime
    released_at: datetime

    @property
    def hours(self) -> float:
        return (self.released_at - self.stop) / HOUR


@dataclass(frozen=True)
class WeekOfReleases:
    week_start: date  # a Monday
    released: int
    early: int  # released before the timer (on the agency's signal)
    median_hours: float
    max_hours: float


def week_start(moment: datetime) -> date:
    day = utc(moment).date()
    return day - timedelta(days=day.weekday())


def releases_per_week(releases: Iterable[Release], early_before: timedelta) -> list[WeekOfReleases]:
    """Weeks that saw at least one release, oldest first. ``early_before``: a release this
    long after the stop or sooner counts as early."""
    delays: dict[date, list[float]] = defaultdict(list)
    early: dict[date, int] = defaultdict(int)
    for release in releases:
        week = week_start(release.stop)
        delays[week].append(release.hours)
        if release.released_at - release.stop < early_before:
            early[week] += 1
    return [
        WeekOfReleases(
            week_start=week,
            released=len(hours),
            early=early[week],
            median_hours=statistics.median(hours),
            max_hours=max(hours),
        )
        for week, hours in sorted(delays.items())
    ]
