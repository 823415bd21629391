"""The key figures: released runs and their delays, misses per month and the forecasts'
score, and the numbers behind the key-figure plots (drawn by the pages from these answers,
printed in tables beneath them)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from spyagency.web.schemas.base import Schema
from spyagency.web.schemas.forecasts import ForecastScore


class ReleasedRun(Schema):
    run: int
    stop: datetime
    released_at: datetime
    hours: float = Field(description="run stop -> PromptReco release")
    early: bool = Field(description="released on the agency's signal, before the 48 h timer")


class Distribution(Schema):
    count: int
    median_hours: float | None
    p90_hours: float | None


class MonthCount(Schema):
    month: str = Field(description="YYYY-MM of the run stop")
    missed: int


class Kpi(Schema):
    released: list[ReleasedRun]
    early: int
    on_timer: int
    release_hours: Distribution
    missed_per_month: list[MonthCount]
    forecast_score: ForecastScore | None = Field(
        default=None, description="how the forecasts of final runs compared with what happened"
    )


class ReleaseHistogram(Schema):
    edges_hours: list[float] = Field(
        description="bin i holds the delays in [edges_hours[i], edges_hours[i+1]), run stop "
        "to PromptReco release; even widths chosen from the data, no empty bin at either end"
    )
    counts: list[int] = Field(description="released runs per bin")
    released: int = Field(description="released runs counted (the sum of counts)")
    timer_hours: float = Field(description="the Tier-0's timer: release this long after stop")


class WeekOfReleases(Schema):
    week_start: date = Field(description="the Monday (UTC) of the week the runs stopped")
    released: int
    early: int = Field(description="released before the timer, on the agency's signal")
    median_hours: float
    max_hours: float


class ReleasesPerWeek(Schema):
    timer_hours: float
    weeks: list[WeekOfReleases] = Field(description="weeks with a release, oldest first")


class ProofLatencyBox(Schema):
    workflow: str
    count: int = Field(description="runs whose workflow was proven in the CondDB")
    min_hours: float
    q1_hours: float
    median_hours: float
    q3_hours: float
    max_hours: float


class ProofLatency(Schema):
    workflows: list[ProofLatencyBox] = Field(
        description="run stop -> proof in the CondDB, per workflow (quartiles interpolated)"
    )
