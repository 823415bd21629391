"""Run labels read from two JSON fields of the observation log, on each backend."""

from __future__ import annotations

from spyagency.domain.facts import ExpressConfig, RunInfo
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source
from spyagency.store import Store
from spyagency.store.run_labels import RunLabels

from .builders import assessment, at


def oms(run: int, run_class: str | None, minutes: float = 0) -> Observation:
    return Observation(Source.OMS, at(minutes), RunInfo(run, at(-60), at(0), run_class=run_class))


def express(run: int, era: str | None, stream: str = "Express", minutes: float = 0) -> Observation:
    fact = ExpressConfig(run, stream, ("PromptCalibProdSiPixelAli",), acq_era=era)
    return Observation(Source.TIER0, at(minutes), fact)


def test_the_latest_observation_of_each_fact_labels_a_run(store: Store) -> None:
    with store.transaction() as tx:
        tx.observations.add_many(
            [
                oms(1, "Cosmics23", minutes=0),
                oms(1, "Collisions23", minutes=1),
                express(1, "Run2023C", minutes=0),
                # A stream without an era does not erase the era another stream gave.
                express(1, None, stream="HLTMonitor", minutes=2),
                express(2, "Run2023D"),
                oms(3, None),
            ]
        )
    with store.read() as tx:
        labels = tx.labels.of_runs([1, 2, 3, 4])
        assert tx.labels.of_run(1) == RunLabels("Collisions23", "Run2023C")
        assert tx.labels.of_run(4) == RunLabels()
    assert labels == {
        1: RunLabels("Collisions23", "Run2023C"),
        2: RunLabels(None, "Run2023D"),
        3: RunLabels(None, None),
    }


def test_runs_labelled_are_the_newest_with_the_class_and_the_era(store: Store) -> None:
    with store.transaction() as tx:
        tx.observations.add_many(
            [
                *(oms(run, "Collisions23") for run in (1, 2, 3, 4)),
                oms(5, "Cosmics23"),
                *(express(run, "Run2023C") for run in (2, 4, 5)),
            ]
        )
    with store.read() as tx:
        assert tx.labels.runs_labelled("Collisions23", None, limit=3) == [4, 3, 2]
        assert tx.labels.runs_labelled(None, "Run2023C", limit=10) == [5, 4, 2]
        assert tx.labels.runs_labelled("Collisions23", "Run2023C", limit=10) == [4, 2]
        assert tx.labels.runs_labelled("HeavyIon23", None, limit=10) == []
        assert tx.labels.runs_labelled(None, None, limit=10) == []


def test_the_newest_runs_labels_are_those_of_the_highest_stored_runs(store: Store) -> None:
    with store.transaction() as tx:
        for run in (1, 2, 3):
            tx.states.save_run(assessment(run), at(0))
        # Run 9 is labelled but has no stored state: no run list shows it.
        tx.observations.add_many([oms(1, "Cosmics23"), oms(3, "Collisions23"), oms(9, "Other")])
    with store.read() as tx:
        assert tx.labels.of_newest_runs(2) == [RunLabels("Collisions23", None)]
        assert sorted(label.run_class or "" for label in tx.labels.of_newest_runs(3)) == [
            "Collisions23",
            "Cosmics23",
        ]
