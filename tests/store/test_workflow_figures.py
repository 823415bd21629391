"""A workflow's figures per run: stop times, first harvest and DQM figures, the latter two
read from JSON fields of the observation log on each backend."""

from __future__ import annotations

from dataclasses import replace

from spyagency.domain.facts import DqmQuality, HarvestFile
from spyagency.domain.observation import Observation
from spyagency.domain.states import DqmStatus, Source
from spyagency.store import Store
from spyagency.store.workflow_figures import DqmFigures

from .builders import T0, assessment, at

PIXEL = "PromptCalibProdSiPixelAli"
PIXEL_TAG = "PromptCalibProdSiPixelAli_pcl"
STRIP_TAG = "PromptCalibProdSiStrip_pcl"


def harvest(run: int, tag: str, created_minutes: float, uuid: str) -> Observation:
    fact = HarvestFile(run, tag, uuid, at(created_minutes), ("hash",), ("TrackerAlignment_PCL",))
    return Observation(Source.HARVEST, at(200), fact)


def dqm(
    run: int,
    workflow: str,
    minutes: float,
    status: DqmStatus,
    failed_tests: tuple[str, ...] = (),
    vetoed: bool | None = None,
    db_updated: bool | None = None,
) -> Observation:
    fact = DqmQuality(run, workflow, status, failed_tests, vetoed, db_updated)
    return Observation(Source.DQM, at(minutes), fact)


def test_stops_are_those_of_the_stored_runs(store: Store) -> None:
    with store.transaction() as tx:
        tx.states.save_run(assessment(1), at(0))
        tx.states.save_run(replace(assessment(2), stop=None), at(0))
    with store.read() as tx:
        assert tx.workflow_figures.stops([1, 2, 3]) == {1: T0, 2: None}


def test_the_first_harvest_is_the_earliest_file_of_the_input_tag(store: Store) -> None:
    with store.transaction() as tx:
        tx.observations.add_many(
            [
                harvest(1, PIXEL_TAG, 90, "b"),
                harvest(1, PIXEL_TAG, 60, "a"),
                harvest(1, STRIP_TAG, 30, "c"),
                harvest(2, STRIP_TAG, 30, "d"),
            ]
        )
    with store.read() as tx:
        assert tx.workflow_figures.first_harvests([1, 2], PIXEL_TAG) == {1: at(60)}


def test_dqm_figures_are_the_latest_published_for_the_workflow(store: Store) -> None:
    with store.transaction() as tx:
        tx.observations.add_many(
            [
                dqm(1, PIXEL, 0, status=DqmStatus.OK),
                dqm(1, PIXEL, 5, status=DqmStatus.ERROR, failed_tests=("a", "b"), vetoed=True),
                dqm(1, "PromptCalibProdSiStrip", 9, status=DqmStatus.OK),
                dqm(2, PIXEL, 0, status=DqmStatus.OTHER, db_updated=False),
            ]
        )
    with store.read() as tx:
        found = tx.workflow_figures.dqm_figures([1, 2, 3], PIXEL)
    assert found == {
        1: DqmFigures("error", failed_tests=2, vetoed=True, db_updated=None),
        2: DqmFigures("other", failed_tests=0, vetoed=None, db_updated=False),
    }
