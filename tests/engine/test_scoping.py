"""The poll scope names the harvest files a run's harvest jobs wrote, and the harvests over
without a known file, for the harvest spy."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from spyagency.domain.catalogue import load_catalogue
from spyagency.domain.policy import Policy
from spyagency.domain.proofs import NO_OUTPUT_LFN
from spyagency.domain.states import HarvestJobState
from spyagency.engine.scoping import harvest_output_names, run_scope
from spyagency.spies.harvest_files import parse_file_name
from spyagency.spies.scope import FinishedHarvest
from tests.domain.world import T0, Story

AREA = "/store/express/tier0_harvest"
STEM = "Run380001@SiPixelAli_pcl@0a1b2c3d-0001"


def test_harvest_files_are_named_by_year_and_file_name() -> None:
    names = harvest_output_names(
        [f"{AREA}/2024/{STEM}.txt", f"{AREA}/2024/{STEM}.db", f"{AREA}/2024/{STEM}.db"]
    )
    assert names == (f"2024/{STEM}.db", f"2024/{STEM}.txt")


def test_what_names_no_harvest_file_is_left_out() -> None:
    assert (
        harvest_output_names(
            [
                NO_OUTPUT_LFN,
                f"{AREA}/{STEM}.db",  # no year folder
                f"{AREA}/24/{STEM}.db",  # not a four-digit year
                f"{AREA}/\uff12\uff10\uff12\uff14/{STEM}.db",  # digits, but not ASCII ones
                f"{AREA}/2024/{STEM}.root",  # not a harvest file
                f"{AREA}/2024/sub/{STEM}.db",  # year not the parent
                f"{STEM}.db",
                "",
            ]
        )
        == ()
    )


LFN_PART = st.text(alphabet="Run0123456789@_-./abcdxyz", max_size=30)


@given(st.lists(st.one_of(LFN_PART, st.builds(lambda s: f"{AREA}/2024/{s}", LFN_PART))))
def test_names_are_sorted_unique_harvest_files_in_a_year(lfns: list[str]) -> None:
    names = harvest_output_names(lfns)
    assert list(names) == sorted(set(names))
    for entry in names:
        year, name = entry.split("/", 1)
        assert len(year) == 4 and year.isdigit()
        assert parse_file_name(name) is not None
        assert any(lfn.endswith(f"/{entry}") for lfn in lfns)


def test_run_scope_names_the_outputs_of_every_stream_harvest() -> None:
    knowledge = (
        Story(run=380001)
        .ran()
        .express("Express", "PromptCalibProdSiPixelAli")
        .harvest_job("Express", HarvestJobState.SUCCESS, f"{AREA}/2026/{STEM}.db")
        .harvest_job("ExpressCosmics", HarvestJobState.SUCCESS, NO_OUTPUT_LFN)
        .knowledge()
        .run(380001)
    )
    scope = run_scope(knowledge, load_catalogue(), Policy())
    assert scope.harvest_outputs == (f"2026/{STEM}.db",)


def test_run_scope_names_nothing_before_any_harvest() -> None:
    knowledge = Story(run=380001).ran().knowledge().run(380001)
    assert run_scope(knowledge, load_catalogue(), Policy()).harvest_outputs == ()


GAINS = ("PromptCalibProdSiStripGains", "SiStripApvGain_pcl")


def _gains_scope(story: Story) -> tuple[FinishedHarvest, ...]:
    knowledge = story.knowledge().run(story.run)
    return run_scope(knowledge, load_catalogue(), Policy()).finished_harvests


def test_a_harvest_over_without_file_asks_the_harvest_spy_for_a_listing() -> None:
    story = Story().ran(2).express("Express", GAINS[0]).at(4).harvest_task("Express", GAINS[0])
    assert _gains_scope(story) == (FinishedHarvest(GAINS[1], T0 + timedelta(hours=4)),)


def test_no_listing_is_asked_while_the_task_runs_or_once_it_is_answered() -> None:
    story = Story().ran(2).express("Express", GAINS[0])
    story.at(4).harvest_task("Express", GAINS[0], active=1, succeeded=0)
    assert _gains_scope(story) == ()
    story.at(5).harvest_task("Express", GAINS[0])
    story.at(5.1).nothing_harvested(GAINS[1], after_hours=5)
    assert _gains_scope(story) == ()
    # A new report of the task asks again: the listing predates it.
    story.at(6).harvest_task("Express", GAINS[0], succeeded=2)
    assert _gains_scope(story) == (FinishedHarvest(GAINS[1], T0 + timedelta(hours=6)),)


def test_no_listing_is_asked_when_a_file_is_known() -> None:
    story = Story().ran(2).express("Express", GAINS[0]).at(4).harvest_task("Express", GAINS[0])
    story.harvested(GAINS[1], ("SiStripApvGain_PCL_v0_prompt",))
    assert _gains_scope(story) == ()
