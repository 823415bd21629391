"""The forecast of a run and the forecasts' score, as the API shows them (ADR 11).

The engine stores each open run's latest forecast; here it is given in hours from now too,
beside the lock-in, and flagged by how the forecasts of the last weeks' final runs fared:
an interval that was not calibrated then is not to be shown as a forecast now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from spyagency.domain.forecast import Forecast
from spyagency.domain.forecast_score import (
    Calibration,
    Horizon,
    Score,
    ScoredForecast,
    score,
    weekly,
)
from spyagency.store.run_records import RunRecord
from spyagency.store.uow import Transaction
from spyagency.web.schemas.forecasts import (
    ForecastScore,
    ForecastScoreRow,
    RunForecast,
    WorkflowForecast,
)

# The forecasts whose score flags the ones shown now: final runs stopped this long ago.
RECENT = timedelta(days=28)
HOUR = 3600.0


def recent_calibration(tx: Transaction, now: datetime) -> Calibration:
    return score(tx.forecasts.scored(stopped_since=now - RECENT)).calibration


def run_forecast(tx: Transaction, record: RunRecord, now: datetime) -> RunForecast:
    assessment = record.assessment
    calibration = recent_calibration(tx, now)
    if assessment.verdict.is_final:
        return _unknown("the run is final", calibration, assessment.lock_in_at)
    latest = tx.forecasts.latest(record.run)
    if latest is None:
        return _unknown("not forecast yet", calibration, assessment.lock_in_at)
    return _known(latest, now, assessment.lock_in_at, calibration)


def open_run_forecasts(
    tx: Transaction, lock_ins: Mapping[int, datetime | None], now: datetime
) -> dict[int, RunForecast]:
    """The latest forecast of each open run in ``lock_ins`` (run -> its lock-in), flagged by
    the recent calibration as ``run_forecast`` does for one run: for lists of runs."""
    if not lock_ins:
        return {}
    calibration = recent_calibration(tx, now)
    latest = tx.forecasts.latest_for(lock_ins)
    return {run: _known(item, now, lock_ins[run], calibration) for run, item in latest.items()}


def _hours(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round((moment - now).total_seconds() / HOUR, 2)


def _known(
    item: Forecast, now: datetime, lock_in: datetime | None, calibration: Calibration
) -> RunForecast:
    return RunForecast(
        known=item.known,
        reason=item.reason,
        made_at=item.made_at,
        median=item.median,
        low=item.low,
        high=item.high,
        median_hours_from_now=_hours(item.median, now),
        low_hours_from_now=_hours(item.low, now),
        high_hours_from_now=_hours(item.high, now),
        lock_in_at=lock_in,
        late=item.high is not None and lock_in is not None and item.high > lock_in,
        failure_chance=round(item.failure_chance, 4) if item.known else None,
        samples=item.samples if item.known else None,
        calibration=calibration.value,
        show_as_forecast=item.known and calibration is Calibration.CALIBRATED,
        workflows=[
            WorkflowForecast(
                workflow=w.workflow,
                median=w.median,
                low=w.low,
                high=w.high,
                samples=w.samples,
                failure_chance=round(w.failure_chance, 4),
            )
            for w in item.workflows
        ],
    )


def _unknown(reason: str, calibration: Calibration, lock_in: datetime | None) -> RunForecast:
    return RunForecast(
        known=False,
        reason=reason,
        made_at=None,
        median=None,
        low=None,
        high=None,
        median_hours_from_now=None,
        low_hours_from_now=None,
        high_hours_from_now=None,
        lock_in_at=lock_in,
        late=False,
        failure_chance=None,
        samples=None,
        calibration=calibration.value,
        show_as_forecast=False,
        workflows=[],
    )


def _row(week: str, horizon: Horizon, found: Score) -> ForecastScoreRow:
    return ForecastScoreRow(
        week=week,
        horizon=horizon.value,
        count=found.count,
        median_abs_error_hours=(
            round(found.median_error_hours, 3) if found.median_error_hours is not None else None
        ),
        coverage=round(found.coverage, 4) if found.coverage is not None else None,
        calibration=found.calibration.value,
    )


def forecast_score(
    items: Iterable[ScoredForecast], now: datetime, run_min: int | None, run_max: int | None
) -> ForecastScore:
    chosen = [
        item
        for item in items
        if (run_min is None or item.run >= run_min) and (run_max is None or item.run <= run_max)
    ]
    recent = [item for item in chosen if item.stop >= now - RECENT]
    return ForecastScore(
        weeks=[_row(week, horizon, found) for (week, horizon), found in weekly(chosen).items()],
        overall=[
            _row("all", horizon, score(i for i in chosen if i.horizon is horizon))
            for horizon in Horizon
        ],
        calibration=score(recent).calibration.value,
    )
