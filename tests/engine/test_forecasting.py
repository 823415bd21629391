"""The engine's forecaster on a real store: history grows as runs end, the latest forecast
and the snapshots are kept, and a forecast past the lock-in raises ``forecast_late``."""

from __future__ import annotations

from datetime import timedelta

from spyagency.domain.clock import ManualClock
from spyagency.domain.forecast_history import MIN_SAMPLES, StepHistory, StepSample
from spyagency.domain.forecast_score import Horizon
from spyagency.store.uow import Store
from tests.domain.world import T0, Story
from tests.engine.conftest import make_evaluator
from tests.engine.test_evaluator import GAINS, feed

HOUR = 3600.0


def slow_gains_history(proof_hours: float) -> StepHistory:
    """Past runs whose gains took ``proof_hours`` after the stop to be proven."""
    return StepHistory(
        StepSample(
            run=100 + index,
            workflow="SiStripGains",
            run_class="Collisions26",
            stop=T0 - timedelta(days=10, hours=index),
            harvest_s=HOUR,
            marker_s=2 * HOUR,
            proof_s=(proof_hours + index / 10) * HOUR,
        )
        for index in range(MIN_SAMPLES)
    )


def pending_gains(run: int) -> Story:
    return Story(run=run).ran(2).express("Express", "PromptCalibProdSiStripGains")


def test_a_forecast_past_the_lock_in_raises_forecast_late_hours_ahead(store: Store) -> None:
    clock = ManualClock(T0 + timedelta(hours=2, minutes=5))  # the run stopped at 2 h
    evaluator = make_evaluator(store, clock)
    evaluator.load()
    evaluator.forecaster.history = slow_gains_history(proof_hours=50)
    feed(evaluator, pending_gains(7))
    evaluator.tick()  # every source has answered by now: the states are known
    with store.read() as tx:
        latest = tx.forecasts.latest(7)
        kept = tx.forecasts.kept_horizons([7])
        alerts = [a.kind for a in tx.alerts.open_alerts_of({7}, system=False)]
    assert latest is not None and latest.known and latest.high is not None
    assert latest.high > T0 + timedelta(hours=2 + 47.5)
    assert kept == {7: {Horizon.STOP}}
    assert alerts == ["forecast_late"]  # and no deadline alert: that one is 41 h away


def test_a_quick_history_raises_nothing_and_a_final_run_joins_the_history(store: Store) -> None:
    clock = ManualClock(T0 + timedelta(hours=2, minutes=5))
    evaluator = make_evaluator(store, clock)
    evaluator.load()
    evaluator.forecaster.history = slow_gains_history(proof_hours=3)
    feed(evaluator, pending_gains(7))
    evaluator.tick()  # every source has answered by now: the states are known
    with store.read() as tx:
        assert [a.kind for a in tx.alerts.open_alerts_of({7}, system=False)] == []
    before = len(evaluator.forecaster.history)
    # Proven, then released: the run's steps join the history from memory.
    story = pending_gains(7).at(3).harvested(*GAINS).marker(*GAINS).at(3.5).iov(GAINS[1][0])
    story.at(4).released()
    clock.set(T0 + timedelta(hours=4))
    feed(evaluator, story)
    evaluator.tick()
    assert evaluator.verdicts[7].is_final
    assert 7 in evaluator.forecaster.history.runs()
    assert len(evaluator.forecaster.history) == before + 1
    # A restarted engine reads the same step from the store.
    restarted = make_evaluator(store, clock)
    restarted.load()
    assert restarted.forecaster.history.runs() == frozenset({7})
