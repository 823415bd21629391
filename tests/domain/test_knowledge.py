"""What folding one observation reports it changed: a run, the system, or nothing."""

from __future__ import annotations

from datetime import timedelta

from spyagency.domain.facts import PromptRecoSwitch, StreamDone
from spyagency.domain.knowledge import SYSTEM_CHANGED, Knowledge, RunChanged
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source
from tests.domain.world import RUN, T0


def _stream_done(done: bool, minutes: int) -> Observation:
    return Observation(
        Source.TIER0, T0 + timedelta(minutes=minutes), StreamDone(RUN, "Express", done)
    )


def _switch(enabled: bool, minutes: int) -> Observation:
    return Observation(Source.TIER0, T0 + timedelta(minutes=minutes), PromptRecoSwitch(enabled))


def test_a_new_run_fact_changes_that_run() -> None:
    knowledge = Knowledge()

    assert knowledge.add(_stream_done(False, 0)) == RunChanged(RUN)
    assert knowledge.add(_stream_done(True, 5)) == RunChanged(RUN)
    assert knowledge.run(RUN).stream_done("Express")


def test_a_new_system_fact_changes_the_system_not_a_run() -> None:
    knowledge = Knowledge()

    assert knowledge.add(_switch(True, 0)) is SYSTEM_CHANGED
    assert knowledge.add(_switch(False, 5)) is SYSTEM_CHANGED
    assert knowledge.runs == {}


def test_an_observation_no_newer_than_the_one_held_changes_nothing() -> None:
    knowledge = Knowledge()
    knowledge.add(_stream_done(True, 10))
    knowledge.add(_switch(True, 10))

    assert knowledge.add(_stream_done(False, 5)) is None
    assert knowledge.add(_stream_done(True, 10)) is None
    assert knowledge.add(_switch(False, 5)) is None
    assert knowledge.run(RUN).stream_done("Express")
