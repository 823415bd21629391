"""The forecast against what happened: the agency replays a simulated period, keeps its
forecasts at stop, +1 h and +6 h, and scores them once the runs are final (ADR 11).

The month (slow): the 80% intervals cover between 70% and 90% of the actual proof times,
and the median absolute error of the median stays below ``MONTH_ERROR_HOURS``. The short
form (normal suite) replays ten days on a coarser grid: too few scored forecasts to judge
the coverage, but the loop works end to end (history learnt from final runs, forecasts
known once it holds enough, kept, scored) and the errors are of the same size.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from spyagency.domain.forecast_score import Score, ScoredForecast, score
from spyagency.harness.replay import replay
from spyagency.store import Store, build_engine

DAY = 86400.0
# A run's calibrations are proven 1.5 to 3 h after its stop, or a day when an upload comes
# late: half an hour to an hour of error for the median is what the spread allows.
MONTH_ERROR_HOURS = 1.0
SHORT_ERROR_HOURS = 2.0


def scored_after(days: float, step_minutes: float, workdir: Path) -> list[ScoredForecast]:
    replay(
        "production_year",
        workdir,
        step=timedelta(minutes=step_minutes),
        plan_changes={"duration_s": days * DAY},
    )
    store = Store(build_engine(f"sqlite:///{workdir / 'agency.db'}"))
    try:
        with store.read() as tx:
            return tx.forecasts.scored()
    finally:
        store.dispose()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_month_of_forecasts_is_calibrated(tmp_path: Path) -> None:
    scored = scored_after(30, 10, tmp_path)
    found: Score = score(scored)
    assert found.count >= 100, found
    assert found.coverage is not None and 0.70 <= found.coverage <= 0.90, found
    assert found.median_error_hours is not None
    assert found.median_error_hours < MONTH_ERROR_HOURS, found


@pytest.mark.timeout(600)
def test_ten_days_of_forecasts_are_kept_and_scored(tmp_path: Path) -> None:
    scored = scored_after(10, 30, tmp_path)
    found: Score = score(scored)
    assert found.count >= 10, found
    assert {item.horizon.value for item in scored} >= {"stop", "1h"}
    assert found.coverage is not None and found.coverage >= 0.5, found
    assert found.median_error_hours is not None
    assert found.median_error_hours < SHORT_ERROR_HOURS, found
