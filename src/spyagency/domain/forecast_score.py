"""How good the forecasts were, once their runs became final.

The engine keeps, per run, the first forecast made at or after three horizons: the run stop,
one hour after it and six hours after it (``snapshot_horizon``). Once the run is final its
actual proof time (``proof_complete_at``, when its last counted calibration was proven) is
known, and each kept forecast is scored:

* its absolute error: ``|median - actual|``, in hours;
* whether the actual time fell inside its 80% interval ``[low, high]``.

Per week of run stop and per horizon: how many were scored, the median absolute error and
the coverage (the fraction inside). An 80% interval is calibrated when its coverage over
enough forecasts is near 80%: within ``CALIBRATION_MARGIN`` or two binomial standard errors,
whichever is wider, over at least ``MIN_SCORED`` forecasts. A forecast known not to be
calibrated must not be shown as a forecast.

Forecasts made when the forecast was not known, and runs that ended without every
calibration proven (missed), are not scored: there is no interval, or no actual time.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Horizon(StrEnum):
    """When after the run stop a forecast is kept for scoring."""

    STOP = "stop"
    ONE_HOUR = "1h"
    SIX_HOURS = "6h"

    @property
    def after_stop(self) -> timedelta:
        return {
            Horizon.STOP: timedelta(0),
            Horizon.ONE_HOUR: timedelta(hours=1),
            Horizon.SIX_HOURS: timedelta(hours=6),
        }[self]


# A forecast is kept for a horizon only if made within this long of it: one made much later
# (an agency that was away) would be scored as if it had been made sooner.
SNAPSHOT_TOLERANCE = timedelta(hours=1)
MIN_SCORED = 20
CALIBRATION_MARGIN = 0.10
NOMINAL_COVERAGE = 0.80
HOUR = 3600.0


class Calibration(StrEnum):
    CALIBRATED = "calibrated"  # enough scored forecasts, coverage near 80%
    UNCALIBRATED = "uncalibrated"  # enough scored forecasts, coverage far from 80%
    UNSCORED = "unscored"  # too few scored forecasts to tell


def snapshot_horizon(stop: datetime, now: datetime, kept: Iterable[Horizon]) -> Horizon | None:
    """The horizon a forecast made at ``now`` is kept for, if any: the latest one reached,
    not kept yet, and reached less than ``SNAPSHOT_TOLERANCE`` ago."""
    done = set(kept)
    for horizon in reversed(Horizon):
        moment = stop + horizon.after_stop
        if moment <= now:
            if horizon in done or now - moment >= SNAPSHOT_TOLERANCE:
                return None
            return horizon
    return None


@dataclass(frozen=True)
class ScoredForecast:
    """A kept forecast of a run that became final, beside what happened."""

    run: int
    horizon: Horizon
    stop: datetime
    made_at: datetime
    median: datetime
    low: datetime
    high: datetime
    actual: datetime

    @property
    def error_hours(self) -> float:
        return abs((self.median - self.actual).total_seconds()) / HOUR

    @property
    def covered(self) -> bool:
        return self.low <= self.actual <= self.high


@dataclass(frozen=True)
class Score:
    count: int
    median_error_hours: float | None
    coverage: float | None
    calibration: Calibration


def score(items: Iterable[ScoredForecast]) -> Score:
    found = list(items)
    if not found:
        return Score(0, None, None, Calibration.UNSCORED)
    coverage = sum(item.covered for item in found) / len(found)
    return Score(
        count=len(found),
        median_error_hours=statistics.median(item.error_hours for item in found),
        coverage=coverage,
        calibration=calibration(coverage, len(found)),
    )


def calibration(coverage: float, count: int) -> Calibration:
    if count < MIN_SCORED:
        return Calibration.UNSCORED
    spread = 2 * math.sqrt(NOMINAL_COVERAGE * (1 - NOMINAL_COVERAGE) / count)
    if abs(coverage - NOMINAL_COVERAGE) <= max(CALIBRATION_MARGIN, spread):
        return Calibration.CALIBRATED
    return Calibration.UNCALIBRATED


def week_of(moment: datetime) -> str:
    """``2026-W09``: the ISO week."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def weekly(items: Iterable[ScoredForecast]) -> dict[tuple[str, Horizon], Score]:
    """The score per (week of run stop, horizon), in week order."""
    grouped: dict[tuple[str, Horizon], list[ScoredForecast]] = {}
    for item in items:
        grouped.setdefault((week_of(item.stop), item.horizon), []).append(item)
    order = list(Horizon)
    return {
        key: score(grouped[key]) for key in sorted(grouped, key=lambda k: (k[0], order.index(k[1])))
    }
