"""The engine's forecaster: each judged run's forecast, kept and scored (ADR 11).

``Forecaster.update`` after each judgement of a run:

1. a run that became final gives its step samples to the history (from memory, before the
   run is evicted), so the history grows without reading the store again;
2. an open run is forecast (``domain/forecast.py``) from where its workflows stand;
3. the forecast is stored as the run's latest when it moved (by a minute or more, or its
   reason or failure chance changed): the web reads it from there;
4. it is kept as the run's snapshot for a horizon (stop, +1 h, +6 h) when it is the first
   made at or after that horizon, within the tolerance, and the run is not proven yet;
5. the ``forecast_late`` alert candidate is returned when its 80% bound is past the lock-in.

At start-up the history is read from the store (final runs within the window), and so are
the horizons already kept for the open runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from spyagency.domain.alerting import AlertCandidate, forecast_alerts
from spyagency.domain.catalogue import Catalogue
from spyagency.domain.forecast import Forecast, forecast_run
from spyagency.domain.forecast_history import WINDOW, StepHistory
from spyagency.domain.forecast_score import Horizon, snapshot_horizon
from spyagency.domain.forecast_steps import finished_run, run_progress, step_samples
from spyagency.domain.knowledge import RunKnowledge
from spyagency.domain.verdict import RunAssessment
from spyagency.store.uow import Transaction

# A latest forecast that moved less than this is not written again.
MOVED = timedelta(minutes=1)


class Forecaster:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.history = StepHistory()
        self.latest: dict[int, Forecast] = {}
        self._kept: dict[int, set[Horizon]] = {}

    def load(self, tx: Transaction, now: datetime, open_runs: Iterable[int]) -> None:
        samples = [
            sample
            for finished in tx.step_history.finished_runs(now - WINDOW)
            for sample in step_samples(finished, self.catalogue)
        ]
        self.history = StepHistory(samples)
        self.latest = {}
        self._kept = tx.forecasts.kept_horizons(open_runs)

    def update(
        self,
        tx: Transaction,
        assessment: RunAssessment,
        knowledge: RunKnowledge,
        now: datetime,
    ) -> list[AlertCandidate]:
        run = assessment.run
        if assessment.verdict.is_final:
            finished = finished_run(assessment, knowledge, self.catalogue)
            if finished is not None:
                self.history.add_run(run, step_samples(finished, self.catalogue))
            self.latest.pop(run, None)
            self._kept.pop(run, None)
            return []
        forecast = forecast_run(
            run_progress(assessment, knowledge, self.catalogue), self.history, now
        )
        previous = self.latest.get(run)
        if previous is None or _moved(previous, forecast):
            tx.forecasts.save_latest(forecast)
            self.latest[run] = forecast
        self._keep(tx, assessment, forecast, now)
        return forecast_alerts(assessment, forecast)

    def _keep(
        self, tx: Transaction, assessment: RunAssessment, forecast: Forecast, now: datetime
    ) -> None:
        stop = assessment.stop
        proven = all(w.satisfied for w in assessment.counted)
        if stop is None or (proven and assessment.counted):
            return
        kept = self._kept.setdefault(assessment.run, set())
        horizon = snapshot_horizon(stop, now, kept)
        if horizon is not None:
            tx.forecasts.keep(forecast, horizon)
            kept.add(horizon)


def _moved(previous: Forecast, current: Forecast) -> bool:
    if previous.reason != current.reason:
        return True
    if abs(previous.failure_chance - current.failure_chance) > 0.005:
        return True
    for before, after in (
        (previous.median, current.median),
        (previous.low, current.low),
        (previous.high, current.high),
    ):
        if (before is None) != (after is None):
            return True
        if before is not None and after is not None and abs(after - before) >= MOVED:
            return True
    return False
