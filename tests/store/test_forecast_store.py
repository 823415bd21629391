"""The forecast's store: final runs' step history, the latest forecast, kept snapshots."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from spyagency.domain.catalogue import load_catalogue
from spyagency.domain.facts import HarvestFile, RunInfo, UploadMarker
from spyagency.domain.forecast import Forecast, WorkflowForecast
from spyagency.domain.forecast_score import Horizon
from spyagency.domain.forecast_steps import step_samples
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source, Verdict, WorkflowState
from spyagency.store import Store

from .builders import T0, assessment, at, workflow

GAINS = "SiStripGains"
GAINS_TAG = "SiStripApvGain_pcl"
IN_DB = WorkflowState.IN_DB


def released_run(store: Store, run: int, proof_minutes: float) -> None:
    proven = workflow(GAINS, IN_DB, proven_at=at(proof_minutes))
    final = replace(
        assessment(run, Verdict.RELEASED),
        workflows=(proven,),
        proof_complete_at=at(proof_minutes),
    )
    facts = [
        RunInfo(run, T0 - timedelta(hours=1), T0, run_class="Collisions26"),
        HarvestFile(run, GAINS_TAG, "u2", at(80), ("h",), ("t",)),
        HarvestFile(run, GAINS_TAG, "u1", at(60), ("h",), ("t",)),  # the first harvest
        UploadMarker(run, GAINS_TAG, "u1", at(70), ("t",)),
    ]
    with store.transaction() as tx:
        tx.observations.append_many([Observation(Source.HARVEST, at(90), f) for f in facts])
        tx.states.save_run(final, at(proof_minutes))


def test_final_runs_give_their_steps_from_the_upstream_times(store: Store) -> None:
    released_run(store, 7, proof_minutes=100)
    with store.transaction() as tx:
        tx.states.save_run(assessment(8, Verdict.PENDING, **{GAINS: IN_DB}), at(0))
    with store.read() as tx:
        finished = list(tx.step_history.finished_runs(T0 - timedelta(days=1)))
        none_yet = list(tx.step_history.finished_runs(T0 + timedelta(minutes=1)))
    assert [f.run for f in finished] == [7]  # run 8 is still open
    assert none_yet == []
    [sample] = step_samples(finished[0], load_catalogue())
    assert sample.run_class == "Collisions26"
    assert (sample.harvest_s, sample.marker_s, sample.proof_s) == (3600.0, 4200.0, 6000.0)


def test_a_snapshot_is_kept_once_and_scored_once_its_run_is_released(store: Store) -> None:
    first = Forecast(
        7,
        at(0),
        median=at(90),
        low=at(50),
        high=at(200),
        samples=30,
        failure_chance=0.25,
        workflows=(WorkflowForecast(GAINS, at(90), at(50), at(200), 30, 0.25),),
    )
    later = replace(first, made_at=at(5), median=at(300))
    with store.transaction() as tx:
        assert tx.forecasts.keep(first, Horizon.STOP)
        assert not tx.forecasts.keep(later, Horizon.STOP)
        tx.forecasts.save_latest(first)
        tx.forecasts.save_latest(later)
    with store.read() as tx:
        assert tx.forecasts.latest(7) == later
        assert tx.forecasts.kept_horizons([7, 8]) == {7: {Horizon.STOP}}
        assert tx.forecasts.scored() == []  # not final yet
    released_run(store, 7, proof_minutes=100)
    with store.read() as tx:
        [scored] = tx.forecasts.scored()
    assert (scored.median, scored.actual, scored.covered) == (at(90), at(100), True)
    assert scored.error_hours == 10 / 60
