"""The per-(run, workflow) lifecycle, step by step, with the evidence each state needs."""

from datetime import timedelta

from spyagency.domain.iov import TimeType, lumi_since
from spyagency.domain.states import DqmStatus, HarvestJobState, UploadOutcome, WorkflowState
from tests.domain.world import Story, judge

GAINS_TAG = "SiStripApvGain_PCL_v0_prompt"


def gains_story() -> Story:
    return Story().ran(2).express("Express", "PromptCalibProdSiStripGains", "TkAlMinBias")


def state(story: Story, hours: float, workflow: str = "SiStripGains") -> WorkflowState:
    found = judge(story, hours).workflow(workflow)
    assert found is not None
    return found.state


def test_the_happy_path_walks_every_state_in_order() -> None:
    story = gains_story()
    assert state(story, 2.5) is WorkflowState.WAITING_EXPRESS
    story.at(3).stream_done("Express")
    assert state(story, 3) is WorkflowState.HARVESTING
    story.at(4).harvested("SiStripApvGain_pcl", (GAINS_TAG,))
    assert state(story, 4) is WorkflowState.HARVESTED
    story.at(5).marker("SiStripApvGain_pcl", (GAINS_TAG,))
    assert state(story, 5) is WorkflowState.UPLOAD_ATTEMPTED
    story.at(5.1).iov(GAINS_TAG)
    assert state(story, 5.2) is WorkflowState.IN_DB


def test_non_pcl_skims_and_unproduced_workflows_are_not_expected() -> None:
    assessment = judge(gains_story(), 3)
    assert assessment.workflow("TkAlMinBias") is None
    beam = assessment.workflow("BeamSpotByRun")
    assert beam is not None and beam.state is WorkflowState.NOT_EXPECTED
    assert not beam.counted


def test_an_iov_with_another_payload_proves_nothing() -> None:
    story = gains_story().at(4).harvested("SiStripApvGain_pcl", (GAINS_TAG,), payload="mine")
    story.at(5).iov(GAINS_TAG, payload="someone else's")
    assessment = judge(story, 5)
    gains = assessment.workflow("SiStripGains")
    assert gains is not None and gains.state is WorkflowState.HARVESTED
    assert any("no IOV covering" in e.what for e in gains.evidence)


def test_an_iov_in_another_tag_proves_nothing() -> None:
    story = gains_story().at(4).harvested("SiStripApvGain_pcl", (GAINS_TAG,))
    story.at(5).iov("SiStripApvGain_wrong_tag")
    assert state(story, 5) is WorkflowState.HARVESTED


def test_an_iov_inserted_before_the_harvest_proves_nothing() -> None:
    story = gains_story().at(3).iov(GAINS_TAG)
    story.at(4).harvested("SiStripApvGain_pcl", (GAINS_TAG,))
    assert state(story, 4.5) is WorkflowState.HARVESTED


def test_every_destination_tag_must_be_covered() -> None:
    tags = (GAINS_TAG, "SiStripApvGain_PCL_v0_hlt")
    story = gains_story().at(4).harvested("SiStripApvGain_pcl", tags)
    story.at(5).iov(GAINS_TAG)
    assert state(story, 5) is WorkflowState.HARVESTED
    story.at(5.5).iov("SiStripApvGain_PCL_v0_hlt")
    assert state(story, 5.5) is WorkflowState.IN_DB


def test_the_upload_marker_metadata_wins_over_the_harvest_metadata() -> None:
    story = gains_story().at(4).harvested("SiStripApvGain_pcl", (GAINS_TAG,))
    story.at(5).marker("SiStripApvGain_pcl", (GAINS_TAG, "Extra_tag"))
    story.at(5.1).iov(GAINS_TAG)
    assert state(story, 5.2) is WorkflowState.UPLOAD_ATTEMPTED


def test_lumi_based_tags_are_proven_by_an_iov_inside_the_run() -> None:
    story = Story().ran(2).express("Express", "PromptCalibProd")
    tag = "BeamSpotObjects_PCL_byLumi_v0_prompt"
    story.at(4).harvested("BeamSpotObject_ByLumi", (tag,))
    story.at(5).iov(tag, since=lumi_since(story.run, 12), time_type=TimeType.LUMI)
    assert state(story, 5, "BeamSpotByLumi") is WorkflowState.IN_DB


def test_rejected_late_and_upload_failed_are_told_apart() -> None:
    late = gains_story().at(4).harvested("SiStripApvGain_pcl", (GAINS_TAG,))
    late.marker("SiStripApvGain_pcl", (GAINS_TAG,))
    late.upload("SiStripApvGain_pcl", GAINS_TAG, UploadOutcome.REJECTED_LATE, info="too late")
    assert state(late, 5) is WorkflowState.REJECTED_LATE

    failed = gains_story().at(4).harvested("SiStripApvGain_pcl", (GAINS_TAG,))
    failed.marker("SiStripApvGain_pcl", (GAINS_TAG,))
    failed.upload("SiStripApvGain_pcl", GAINS_TAG, UploadOutcome.ERROR, info="oracle down")
    assert state(failed, 5) is WorkflowState.UPLOAD_FAILED


def test_a_retried_upload_supersedes_an_earlier_error() -> None:
    story = gains_story().at(4).harvested("SiStripApvGain_pcl", (GAINS_TAG,), uuid="a")
    story.marker("SiStripApvGain_pcl", (GAINS_TAG,), uuid="a")
    story.upload("SiStripApvGain_pcl", GAINS_TAG, UploadOutcome.ERROR, uuid="a")
    story.at(6).harvested("SiStripApvGain_pcl", (GAINS_TAG,), uuid="b")
    story.marker("SiStripApvGain_pcl", (GAINS_TAG,), uuid="b")
    assert state(story, 6) is WorkflowState.UPLOAD_ATTEMPTED


def test_no_payload_needs_positive_evidence_and_earlier_coverage() -> None:
    story = gains_story().at(3).stream_done("Express")
    story.at(4).harvest_job(
        "Express", HarvestJobState.SUCCESS, "/no/output", producer="PromptCalibProdSiStripGains"
    )
    assert state(story, 4) is WorkflowState.HARVESTING  # no earlier IOV known yet
    story.at(4.5).iov(GAINS_TAG, since=story.run - 50, payload="old")
    assert state(story, 4.5) is WorkflowState.HARVESTING  # not yet in every destination tag
    story.iov("SiStripApvGain_PCL_v0_hlt", since=story.run - 50, payload="old")
    assert state(story, 4.5) is WorkflowState.NO_PAYLOAD


def test_another_producers_report_or_outputs_prove_nothing_about_this_one() -> None:
    """A harvest job of another producer's task, or one of this producer naming other files,
    says nothing about this workflow: only its own ``/no/output`` does (WMCore writes one
    AlcaHarvest task per producer)."""
    story = gains_story().at(3).stream_done("Express").iov(GAINS_TAG, since=1, payload="old")
    story.at(4).harvest_job(
        "Express", HarvestJobState.SUCCESS, "/no/output", producer="PromptCalibProdSiPixelAli"
    )
    story.harvest_job(
        "Express",
        HarvestJobState.SUCCESS,
        "/store/Run380100@SiStripApvGainAAG_pcl@u.db",
        producer="PromptCalibProdSiStripGains",
    )
    story.harvest_job("Express", HarvestJobState.SUCCESS, "/no/output")  # task not attributed
    assert state(story, 5) is WorkflowState.HARVESTING


def test_silence_is_not_no_payload() -> None:
    story = gains_story().at(3).stream_done("Express").iov(GAINS_TAG, since=1, payload="old")
    assert state(story, 4) is WorkflowState.HARVESTING


def test_a_vetoed_alignment_is_no_payload_by_design() -> None:
    story = Story().ran(2).express("Express", "PromptCalibProdSiPixelAli")
    story.at(4).dqm("SiPixelAli", DqmStatus.OTHER, vetoed=True, pede_ok=True)
    spec = story.catalogue.by_name("SiPixelAli")
    assert spec is not None
    for tag in spec.destination_tags:
        story.iov(tag, since=1, payload="old")
    assert state(story, 4, "SiPixelAli") is WorkflowState.NO_PAYLOAD


def test_dqm_error_fails_quality_even_with_the_payload_in_the_db() -> None:
    story = gains_story().at(4).harvested("SiStripApvGain_pcl", (GAINS_TAG,))
    story.at(5).iov(GAINS_TAG).dqm("SiStripGains", DqmStatus.ERROR)
    assert state(story, 5) is WorkflowState.QUALITY_FAILED


def test_time_budgets_after_run_stop() -> None:
    story = gains_story()
    assert state(story, 2 + 11.9) is WorkflowState.WAITING_EXPRESS
    assert state(story, 2 + 12.1) is WorkflowState.TIMED_OUT
    story.at(5).harvested("SiStripApvGain_pcl", (GAINS_TAG,))
    assert state(story, 2 + 17.9) is WorkflowState.HARVESTED
    assert state(story, 2 + 18.1) is WorkflowState.TIMED_OUT
    deadline = judge(story, 10).workflow("SiStripGains")
    assert deadline is not None and deadline.deadline is not None
    assert deadline.deadline - story.observations[0].fact.stop == timedelta(hours=18)  # type: ignore[union-attr]


def test_outputs_of_one_harvest_job_share_a_uuid_but_are_proven_apart() -> None:
    """One AlcaHarvest job writes every output under one uuid (SiPixelQuality writes three)."""
    story = Story().ran(2).express("Express", "PromptCalibProdSiPixel")
    outputs = {
        "SiPixelQualityFromDbRcd_prompt": "SiPixelQuality_byPCL_prompt_v2",
        "SiPixelQualityFromDbRcd_stuckTBM": "SiPixelQuality_byPCL_stuckTBM_v1",
        "SiPixelQualityFromDbRcd_other": "SiPixelQuality_byPCL_other_v1",
    }
    story.at(4)
    for input_tag, tag in outputs.items():
        story.harvested(input_tag, (tag,), uuid="job", payload=input_tag)
        story.marker(input_tag, (tag,), uuid="job")
    story.at(5)
    for input_tag, tag in list(outputs.items())[:2]:
        story.iov(tag, payload=input_tag, since=lumi_since(story.run, 1), time_type=TimeType.LUMI)
    assert state(story, 5, "SiPixelQuality") is WorkflowState.UPLOAD_ATTEMPTED
    story.at(5.5).iov(
        "SiPixelQuality_byPCL_other_v1",
        payload="SiPixelQualityFromDbRcd_other",
        since=lumi_since(story.run, 1),
        time_type=TimeType.LUMI,
    )
    assert state(story, 5.5, "SiPixelQuality") is WorkflowState.IN_DB
