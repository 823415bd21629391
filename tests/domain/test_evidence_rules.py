"""The evidence rules (ADR 2 and 6): each satisfied state names the positive evidence it needs,
and no combination of *missing* facts reaches ``in_db``, ``no_payload`` or ``ready``.

The walk draws every kind of trace a workflow can leave, then takes the positive evidence
away (the IOV with the harvested payload, this producer's ``/no/output`` report, the veto read
from the alignment's bins) and checks that nothing is proven any more. Item problems, the
quality gate and runs first seen after their lock-in have their own cases below.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from spyagency.domain.facts import (
    DqmQuality,
    HarvestJob,
    HarvestTaskCounts,
    IovSeen,
    ItemProblem,
    NoHarvestFile,
)
from spyagency.domain.states import (
    DqmStatus,
    HarvestJobState,
    Source,
    UploadOutcome,
    Verdict,
    WorkflowState,
)
from spyagency.domain.verdict import NO_EVIDENCE_EITHER_WAY
from tests.domain.world import T0, Story, hash_of, healthy, judge

GAINS = ("SiStripGains", "PromptCalibProdSiStripGains", "SiStripApvGain_pcl")
GAINS_TAG = "SiStripApvGain_PCL_v0_prompt"
ALI = ("SiPixelAli", "PromptCalibProdSiPixelAli", "SiPixelAli_pcl")
ALI_TAG = "SiPixelAli_PCL_v0_prompt"
WORKFLOWS = {"SiStripGains": (GAINS, GAINS_TAG), "SiPixelAli": (ALI, ALI_TAG)}
SATISFIED = {WorkflowState.IN_DB, WorkflowState.NO_PAYLOAD}


@st.composite
def traces(draw: st.DrawFn) -> Story:
    """Both workflows, each with a random subset of every trace it can leave."""
    story = Story().ran(2).express("Express", GAINS[1], ALI[1], "TkAlMinBias")
    hour = 3.0
    if draw(st.booleans()):
        story.at(hour).stream_done("Express")
    for (name, producer, input_tag), tag in WORKFLOWS.values():
        if draw(st.booleans()):
            story.at(hour).iov(tag, payload="old", since=1)
        if draw(st.booleans()):
            story.at(hour + 1).harvested(input_tag, (tag,), payload=name)
            if draw(st.booleans()):
                story.at(hour + 1.5).marker(input_tag, (tag,))
            outcome = draw(st.sampled_from([None, *UploadOutcome]))
            if outcome is not None:
                story.upload(input_tag, tag, outcome)
            if draw(st.booleans()):
                story.at(hour + 2).iov(tag, payload=name)
        if draw(st.booleans()):
            story.at(hour + 1).harvest_job(
                "Express",
                draw(st.sampled_from(list(HarvestJobState))),
                draw(st.sampled_from(["/no/output", f"/store/Run1@{input_tag}@u.db"])),
                producer=draw(st.sampled_from([producer, "PromptCalibProdOther", ""])),
            )
        if draw(st.booleans()):
            story.at(hour + 1).harvest_task(
                "Express",
                draw(st.sampled_from([producer, "PromptCalibProdOther"])),
                succeeded=draw(st.integers(0, 2)),
                failed=draw(st.integers(0, 1)),
                active=draw(st.integers(0, 1)),
                finished=draw(st.integers(0, 1)),
                still_open=draw(st.integers(0, 1)),
            )
            if draw(st.booleans()):
                after = draw(st.sampled_from([hour, hour + 1, hour + 1.2]))
                story.at(hour + 1.5).nothing_harvested(input_tag, after)
        if draw(st.booleans()):
            story.at(hour + 3).dqm(
                name,
                draw(st.sampled_from(list(DqmStatus))),
                vetoed=draw(st.sampled_from([None, True, False])),
                pede_ok=draw(st.sampled_from([None, True, False])),
            )
        hour += 0.5
    return story


def _is_positive_evidence(story: Story, observation_fact: object) -> bool:
    """The facts that may prove a workflow: everything else is context or absence."""
    fact = observation_fact
    if isinstance(fact, IovSeen):
        harvested = {hash_of(name) for (name, _, _), _ in WORKFLOWS.values()}
        return fact.payload_hash in harvested or fact.payload_hash == hash_of("old")
    if isinstance(fact, HarvestJob):
        return "/no/output" in fact.outputs
    if isinstance(fact, HarvestTaskCounts):
        return fact.finished_ok
    if isinstance(fact, NoHarvestFile):
        return True
    if isinstance(fact, DqmQuality):
        return bool(fact.vetoed)
    return False


@settings(max_examples=300, deadline=None)
@given(traces(), st.floats(4, 40))
def test_without_positive_evidence_nothing_is_proven_and_no_run_is_ready(
    story: Story, hours: float
) -> None:
    story.observations = [o for o in story.observations if not _is_positive_evidence(story, o.fact)]
    found = judge(story, hours)
    for name in WORKFLOWS:
        workflow = found.workflow(name)
        assert workflow is not None
        assert workflow.state not in SATISFIED, (name, workflow.state, workflow.evidence)
    assert found.verdict is not Verdict.READY


@settings(max_examples=300, deadline=None)
@given(traces(), st.floats(4, 40), st.sampled_from(sorted(WORKFLOWS)))
def test_an_unreadable_item_hides_its_workflow_only(
    story: Story, hours: float, hidden: str
) -> None:
    (_, _, input_tag), _ = WORKFLOWS[hidden]
    before = judge(story, hours)
    story.at(3.5).see(
        ItemProblem(
            story.run,
            Source.HARVEST,
            f"Run{story.run}@{input_tag}@u.db",
            "not sqlite",
            input_tag=input_tag,
        )
    )
    after = judge(story, hours)
    workflow = after.workflow(hidden)
    assert workflow is not None
    assert workflow.state not in SATISFIED
    assert workflow.state is WorkflowState.UNKNOWN or workflow.state.is_failure
    assert after.verdict is not Verdict.READY
    for other in set(WORKFLOWS) - {hidden}:
        assert after.workflow(other) == before.workflow(other)


# -- a harvest over without a file: the task's own report, then a full listing after it ----


def _gains_over_without_file() -> Story:
    story = Story().ran(2).express("Express", GAINS[1]).at(1).iov(GAINS_TAG, since=1)
    story.iov("SiStripApvGain_PCL_v0_hlt", since=1)
    return story.at(4).harvest_task("Express", GAINS[1])


def test_a_harvest_over_and_a_later_listing_without_its_file_prove_no_payload() -> None:
    story = _gains_over_without_file().at(4.1).nothing_harvested(GAINS[2], after_hours=4)
    found = judge(story, 4.2)
    gains = found.workflow("SiStripGains")
    assert gains is not None and gains.state is WorkflowState.NO_PAYLOAD, gains
    assert "none failed" in gains.evidence[0].what
    assert found.verdict is Verdict.READY


def test_a_listing_older_than_the_latest_task_report_proves_nothing() -> None:
    story = _gains_over_without_file().at(4.1).nothing_harvested(GAINS[2], after_hours=4)
    # The task reported again (a second job): the listing predates that report.
    story.at(5).harvest_task("Express", GAINS[1], succeeded=2)
    gains = judge(story, 5.1).workflow("SiStripGains")
    assert gains is not None and gains.state is WorkflowState.HARVESTING


def test_a_listing_without_the_task_over_proves_nothing() -> None:
    for unfinished in (
        {"active": 1},
        {"failed": 1},
        {"still_open": 1},
        {"finished": 0},
        {"succeeded": 0, "finished": 0, "still_open": 1},
    ):
        story = Story().ran(2).express("Express", GAINS[1]).at(1).iov(GAINS_TAG, since=1)
        story.at(4).harvest_task("Express", GAINS[1], **unfinished)
        story.at(4.1).nothing_harvested(GAINS[2], after_hours=4)
        gains = judge(story, 4.2).workflow("SiStripGains")
        assert gains is not None and gains.state is not WorkflowState.NO_PAYLOAD, unfinished


def test_a_harvest_that_ran_no_job_and_left_no_file_has_no_payload() -> None:
    """A stream without express data: the harvest subscription finishes with no job."""
    story = Story().ran(2).express("Express", GAINS[1]).at(1).iov(GAINS_TAG, since=1)
    story.iov("SiStripApvGain_PCL_v0_hlt", since=1)
    story.at(4).harvest_task("Express", GAINS[1], succeeded=0)
    story.at(4.1).nothing_harvested(GAINS[2], after_hours=4)
    gains = judge(story, 4.2).workflow("SiStripGains")
    assert gains is not None and gains.state is WorkflowState.NO_PAYLOAD
    assert "no job ran" in gains.evidence[0].what


def test_the_evidence_dates_from_the_harvest_end_not_from_the_listing() -> None:
    """A run read after an outage: the task ended at 4 h (its subscriptions' last update),
    the agency read it and listed the area at 60 h. Nothing was there from 4 h on."""
    story = Story().ran(2).express("Express", GAINS[1]).at(1).iov(GAINS_TAG, since=1)
    story.iov("SiStripApvGain_PCL_v0_hlt", since=1)
    ended = T0 + timedelta(hours=4)
    story.at(60).see(HarvestTaskCounts(story.run, "Express", GAINS[1], 1, 0, 0, 1, 0), ended)
    story.at(60.1).nothing_harvested(GAINS[2], after_hours=60)
    gains = judge(story, 60.2).workflow("SiStripGains")
    assert gains is not None and gains.state is WorkflowState.NO_PAYLOAD
    assert gains.proven_at == ended


def test_another_producers_task_proves_nothing_for_this_workflow() -> None:
    story = Story().ran(2).express("Express", GAINS[1]).at(1).iov(GAINS_TAG, since=1)
    story.at(4).harvest_task("Express", "PromptCalibProdSiStrip")
    story.at(4.1).nothing_harvested(GAINS[2], after_hours=4)
    gains = judge(story, 4.2).workflow("SiStripGains")
    assert gains is not None and gains.state is not WorkflowState.NO_PAYLOAD


def test_a_harvest_over_without_file_still_needs_every_destination_tag_covered() -> None:
    story = Story().ran(2).express("Express", GAINS[1]).at(1).iov(GAINS_TAG, since=1)
    story.at(4).harvest_task("Express", GAINS[1]).at(4.1).nothing_harvested(GAINS[2], 4)
    gains = judge(story, 4.2).workflow("SiStripGains")
    assert gains is not None and gains.state is not WorkflowState.NO_PAYLOAD
    assert any("SiStripApvGain_PCL_v0_hlt" in e.what for e in gains.evidence)


def test_a_problem_read_fine_again_no_longer_hides_anything() -> None:
    story = Story().ran(2).express("Express", GAINS[1]).at(4).harvested(GAINS[2], (GAINS_TAG,))
    item = f"Run{story.run}@{GAINS[2]}@u1.txt.uploaded"
    story.at(5).iov(GAINS_TAG)
    story.see(ItemProblem(story.run, Source.HARVEST, item, "half a JSON line", input_tag=GAINS[2]))
    assert judge(story, 5).workflow("SiStripGains").state is WorkflowState.UNKNOWN  # type: ignore[union-attr]
    story.at(6).see(ItemProblem(story.run, Source.HARVEST, item, "read fine again", open=False))
    assert judge(story, 6).workflow("SiStripGains").state is WorkflowState.IN_DB  # type: ignore[union-attr]
    assert judge(story, 6).verdict is Verdict.READY


def test_an_unreadable_item_about_the_whole_run_makes_it_unknown() -> None:
    story = Story().ran(2).express("Express", GAINS[1]).at(4).harvested(GAINS[2], (GAINS_TAG,))
    story.at(5).iov(GAINS_TAG)
    assert judge(story, 5).verdict is Verdict.READY
    story.see(ItemProblem(story.run, Source.TIER0, "reco_config?run=380100", "truncated"))
    found = judge(story, 5)
    assert found.verdict is Verdict.UNKNOWN
    assert "reco_config?run=380100" in found.reasons[0]


# -- the quality gate: proven only after the published quality evidence was read -----------


def _alignment_in_db() -> Story:
    story = Story().ran(2).express("Express", ALI[1]).at(4).harvested(ALI[2], (ALI_TAG,))
    return story.at(5).iov(ALI_TAG, payload="p")


def test_a_gated_alignment_in_the_condb_waits_for_its_quality_evidence() -> None:
    story = _alignment_in_db()
    waiting = judge(story, 5).workflow("SiPixelAli")
    assert waiting is not None and waiting.state is WorkflowState.HARVESTED
    assert any("quality evidence" in e.what for e in waiting.evidence)
    assert judge(story, 5).verdict is Verdict.PENDING


def test_unreadable_or_unclassified_quality_evidence_proves_nothing() -> None:
    story = _alignment_in_db()
    story.at(6).see(DqmQuality(story.run, "SiPixelAli", DqmStatus.OTHER))  # bins not read
    assert judge(story, 6).workflow("SiPixelAli").state is not WorkflowState.IN_DB  # type: ignore[union-attr]
    story.at(7).dqm(
        "SiPixelAli",
        DqmStatus.OTHER,
        alignment_read=True,
        pede_message="something new",
        pede_ok=None,
    )
    assert judge(story, 7).workflow("SiPixelAli").state is not WorkflowState.IN_DB  # type: ignore[union-attr]


def test_good_quality_evidence_read_after_the_harvest_proves_the_alignment() -> None:
    story = _alignment_in_db()
    story.at(6).dqm(
        "SiPixelAli",
        DqmStatus.OTHER,
        db_updated=True,
        alignment_read=True,
        pede_message="Ended normally",
        pede_ok=True,
    )
    assert judge(story, 6).workflow("SiPixelAli").state is WorkflowState.IN_DB  # type: ignore[union-attr]
    assert judge(story, 6).verdict is Verdict.READY


def test_quality_evidence_older_than_the_harvest_was_not_read_for_it() -> None:
    story = Story().ran(2).express("Express", ALI[1])
    story.at(3).dqm(
        "SiPixelAli",
        DqmStatus.OTHER,
        alignment_read=True,
        pede_message="Ended normally",
        pede_ok=True,
    )
    story.at(4).harvested(ALI[2], (ALI_TAG,)).at(5).iov(ALI_TAG, payload="p")
    assert judge(story, 5).workflow("SiPixelAli").state is not WorkflowState.IN_DB  # type: ignore[union-attr]


def test_pede_failing_is_a_quality_failure() -> None:
    story = _alignment_in_db()
    story.at(6).dqm(
        "SiPixelAli",
        DqmStatus.OTHER,
        alignment_read=True,
        pede_message="Aborted: matrix singular",
        pede_ok=False,
    )
    found = judge(story, 6)
    assert found.workflow("SiPixelAli").state is WorkflowState.QUALITY_FAILED  # type: ignore[union-attr]
    assert found.verdict is Verdict.BLOCKED


def test_a_workflow_without_quality_evidence_is_not_gated() -> None:
    story = Story().ran(2).express("Express", GAINS[1]).at(4).harvested(GAINS[2], (GAINS_TAG,))
    story.at(5).iov(GAINS_TAG)
    assert judge(story, 5).workflow("SiStripGains").state is WorkflowState.IN_DB  # type: ignore[union-attr]


# -- runs judged after their lock-in ----------------------------------------------------------


def _first_seen_after_release(with_config: bool) -> Story:
    """Everything happened while the agency was away; it first looks at hour 60."""
    story = Story()
    story.at(60).ran(2)  # OMS says it stopped at hour 2 (seen at 60)
    if with_config:
        story.express("Express", GAINS[1])
    return story


def test_a_run_first_seen_late_with_its_calibrations_in_before_the_lock_in_is_released() -> None:
    story = _first_seen_after_release(with_config=True)
    story.see(_harvest(story, created_hours=4))
    story.see(_iov(story, inserted_hours=6))
    story.fcsr(story.run + 5).released()
    found = judge(story, 61)
    assert found.verdict is Verdict.RELEASED, found.reasons


def test_a_run_first_seen_late_without_its_history_is_unknown_not_missed() -> None:
    story = _first_seen_after_release(with_config=False)
    story.fcsr(story.run + 5).released()
    found = judge(story, 61)
    assert found.verdict is Verdict.UNKNOWN
    assert NO_EVIDENCE_EITHER_WAY in found.reasons[0]


def test_a_deadline_that_expired_unwatched_is_no_evidence_of_a_miss() -> None:
    story = _first_seen_after_release(with_config=True)
    story.fcsr(story.run + 5).released()
    found = judge(story, 61)
    assert found.workflow("SiStripGains").state is WorkflowState.TIMED_OUT  # type: ignore[union-attr]
    assert found.verdict is Verdict.UNKNOWN


def test_a_proof_that_came_after_the_lock_in_is_evidence_of_a_miss() -> None:
    story = _first_seen_after_release(with_config=True)
    story.see(_harvest(story, created_hours=4))
    story.see(_iov(story, inserted_hours=55))  # lock-in by rule at 2 + 47.5 h
    story.fcsr(story.run + 5).released()
    assert judge(story, 61).verdict is Verdict.MISSED


def test_a_deadline_the_agency_watched_expire_is_evidence_of_a_miss() -> None:
    story = Story().ran(2).express("Express", GAINS[1])  # watched from hour 2
    story.at(50).fcsr(story.run + 5).released()
    assert judge(story, 50).verdict is Verdict.MISSED


def test_a_watched_deadline_is_no_evidence_before_every_critical_source_is_read_again() -> None:
    """Back from an outage across the lock-in: the first report that shows the run locked
    comes before the harvest area and the CondDB have been read again, so the steps still
    missing may have been done while nobody looked."""
    story = Story().ran(2).express("Express", GAINS[1])  # watched from hour 2
    story.at(60).fcsr(story.run + 5).released()
    now = T0 + timedelta(hours=60)
    before = healthy(T0 + timedelta(hours=6))  # the agency went away at hour 6
    current = {source: healthy(now)[source] for source in (Source.TIER0, Source.OMS)}
    found = judge(story, 60, health={**before, **current})
    assert found.workflow("SiStripGains").state is WorkflowState.TIMED_OUT  # type: ignore[union-attr]
    assert found.verdict is Verdict.UNKNOWN
    assert NO_EVIDENCE_EITHER_WAY in found.reasons[0]
    assert judge(story, 60.5).verdict is Verdict.MISSED  # every source read since: a miss


def _harvest(story: Story, created_hours: float):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from spyagency.domain.facts import HarvestFile
    from tests.domain.world import T0

    return HarvestFile(
        story.run,
        GAINS[2],
        "u1",
        T0 + timedelta(hours=created_hours),
        (hash_of("p"),),
        (GAINS_TAG,),
    )


def _iov(story: Story, inserted_hours: float) -> IovSeen:
    from datetime import timedelta

    from spyagency.domain.iov import TimeType
    from tests.domain.world import T0

    return IovSeen(
        story.run,
        GAINS_TAG,
        TimeType.RUN,
        story.run,
        T0 + timedelta(hours=inserted_hours),
        hash_of("p"),
    )


def test_a_task_still_going_in_another_stream_proves_nothing() -> None:
    """Both express streams feed the strip-quality producer: one over with nothing is not
    enough while the other could still write the same input tag."""
    producer, tag, dest = (
        "PromptCalibProdSiStrip",
        "SiStripBadStrip_pcl",
        "SiStripBadChannel_PCL_v1_hlt",
    )
    story = Story().ran(2).express("Express", producer).express("ExpressCosmics", producer)
    story.at(1).iov(dest, since=1)
    story.at(4).harvest_task("Express", producer)
    story.harvest_task("ExpressCosmics", producer, succeeded=0, active=1, finished=0, still_open=1)
    story.at(4.1).nothing_harvested(tag, after_hours=4)
    quality = judge(story, 4.2).workflow("SiStripQuality")
    assert quality is not None and quality.state is not WorkflowState.NO_PAYLOAD
    story.at(5).harvest_task("ExpressCosmics", producer)
    story.at(5.1).nothing_harvested(tag, after_hours=5)
    quality = judge(story, 5.2).workflow("SiStripQuality")
    assert quality is not None and quality.state is WorkflowState.NO_PAYLOAD, quality.evidence
