"""Forecasts: when a run's last calibration will be provable (ADR 11), per workflow and
for the run, and how past forecasts scored against what happened."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from spyagency.web.schemas.base import Schema


class WorkflowForecast(Schema):
    workflow: str
    median: datetime | None
    low: datetime | None = Field(description="10th percentile")
    high: datetime | None = Field(description="90th percentile")
    samples: int = Field(description="proven past runs of this workflow behind it (0: proven)")
    failure_chance: float = Field(description="share of past runs where it ended in a failure")


Calibration = Literal["calibrated", "uncalibrated", "unscored"]


class RunForecast(Schema):
    """When the run's last calibration will be provable, if no workflow fails (ADR 11)."""

    known: bool = Field(description="false: no forecast; reason says why")
    reason: str | None = Field(description="why there is no forecast (null when known)")
    made_at: datetime | None = Field(description="when the engine made this forecast")
    median: datetime | None
    low: datetime | None = Field(description="start of the 80% interval (10th percentile)")
    high: datetime | None = Field(description="end of the 80% interval (90th percentile)")
    median_hours_from_now: float | None
    low_hours_from_now: float | None
    high_hours_from_now: float | None
    lock_in_at: datetime | None
    late: bool = Field(description="the 80% interval ends after the lock-in (forecast_late)")
    failure_chance: float | None = Field(description="chance that a workflow fails instead")
    samples: int | None = Field(description="fewest proven past runs behind a workflow")
    calibration: Calibration = Field(
        description="how the 80% intervals of the last 28 days of final runs fared: "
        "calibrated (coverage near 80%), uncalibrated, or unscored (too few yet)"
    )
    show_as_forecast: bool = Field(
        description="known and calibrated: only then may a page present the interval as a forecast"
    )
    workflows: list[WorkflowForecast]


class ForecastScoreRow(Schema):
    week: str = Field(description="ISO week of the run stop (2026-W09), or 'all'")
    horizon: Literal["stop", "1h", "6h"] = Field(description="forecast kept at this moment")
    count: int = Field(description="forecasts scored (known, of runs released proven)")
    median_abs_error_hours: float | None = Field(description="median |median - actual|")
    coverage: float | None = Field(description="share of actual proof times inside the 80%")
    calibration: Calibration


class ForecastScore(Schema):
    weeks: list[ForecastScoreRow] = Field(description="per week and horizon, oldest first")
    overall: list[ForecastScoreRow] = Field(description="per horizon, every week together")
    calibration: Calibration = Field(description="the last 28 days, every horizon: what runs show")
