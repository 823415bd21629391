"""The per-run verdict, its fail-closed rules and overrides."""

from datetime import timedelta

from spyagency.domain.health import SourceHealth
from spyagency.domain.overrides import Override, OverrideKind
from spyagency.domain.policy import Group, Policy
from spyagency.domain.states import Source, UploadOutcome, Verdict
from tests.domain.world import T0, Story, healthy, judge

GAINS = ("SiStripApvGain_pcl", ("SiStripApvGain_PCL_v0_prompt",))
QUALITY = ("SiStripBadStrip_pcl", ("SiStripBadChannel_PCL_v1_hlt",))


def two_workflow_run() -> Story:
    return (
        Story().ran(2).express("Express", "PromptCalibProdSiStripGains", "PromptCalibProdSiStrip")
    )


def prove(story: Story, hours: float, input_tag: str, tags: tuple[str, ...]) -> Story:
    story.at(hours).harvested(input_tag, tags).marker(input_tag, tags)
    for tag in tags:
        story.at(hours + 0.1).iov(tag)
    return story


def test_ready_only_when_every_required_workflow_is_proven() -> None:
    story = prove(two_workflow_run(), 4, *GAINS)
    assert judge(story, 5).verdict is Verdict.PENDING
    prove(story, 5, *QUALITY)
    ready = judge(story, 6)
    assert ready.verdict is Verdict.READY
    assert ready.proof_complete_at == T0 + timedelta(hours=5.1)


def test_running_runs_and_unknown_runs() -> None:
    assert judge(Story(), 1).verdict is Verdict.UNKNOWN
    running = Story().see_running()
    assert judge(running, 1).verdict is Verdict.PENDING


def test_missing_express_configuration_is_pending_then_unknown() -> None:
    story = Story().ran(2)
    assert judge(story, 5).verdict is Verdict.PENDING
    assert judge(story, 15).verdict is Verdict.UNKNOWN


def test_a_stale_critical_source_makes_the_run_unknown_never_ready() -> None:
    story = prove(prove(two_workflow_run(), 4, *GAINS), 5, *QUALITY)
    now = T0 + timedelta(hours=6)
    health = healthy(now)
    health[Source.CONDDB] = SourceHealth(Source.CONDDB, last_success=now - timedelta(hours=2))
    assessment = judge(story, 6, health=health)
    assert assessment.verdict is Verdict.UNKNOWN
    assert assessment.stale_sources == (Source.CONDDB,)
    # A source never heard from is as bad as a stale one.
    del health[Source.CONDDB]
    assert judge(story, 6, health=health).verdict is Verdict.UNKNOWN
    # A stale non-critical source does not block.
    health = healthy(now)
    health[Source.DQM] = SourceHealth(Source.DQM, last_success=None)
    assert judge(story, 6, health=health).verdict is Verdict.READY


def test_a_failure_blocks_the_run() -> None:
    story = prove(two_workflow_run(), 4, *GAINS)
    story.at(5).harvested(*QUALITY).marker(*QUALITY)
    story.upload(QUALITY[0], QUALITY[1][0], UploadOutcome.ERROR, info="boom")
    assessment = judge(story, 6)
    assert assessment.verdict is Verdict.BLOCKED
    assert "SiStripQuality upload_failed" in assessment.reasons[0]


def test_optional_workflows_never_block() -> None:
    story = prove(two_workflow_run(), 4, *GAINS)
    policy = Policy(optional_workflows=frozenset({"SiStripQuality"}))
    assert judge(story, 5, policy=policy).verdict is Verdict.READY


def test_k_of_n_groups() -> None:
    story = prove(two_workflow_run(), 4, *GAINS)
    one_of_two = Policy(groups=(Group("strips", frozenset({"SiStripGains", "SiStripQuality"}), 1),))
    two_of_two = Policy(groups=(Group("strips", frozenset({"SiStripGains", "SiStripQuality"}), 2),))
    assert judge(story, 5, policy=one_of_two).verdict is Verdict.READY
    assert judge(story, 5, policy=two_of_two).verdict is Verdict.PENDING


def test_magnet_off_and_missing_components_drop_workflows() -> None:
    story = Story().ran(2, b_field=0.0, components=("TRACKER",))
    story.express(
        "Express", "PromptCalibProdSiStripGains", "PromptCalibProdSiStrip", "PromptCalibProdSiPixel"
    )
    prove(story, 4, *QUALITY)
    assessment = judge(story, 5)
    assert assessment.verdict is Verdict.READY
    gains = assessment.workflow("SiStripGains")
    assert gains is not None and "magnet" in gains.evidence[0].what


def test_unknown_pcl_producers_fail_closed() -> None:
    story = prove(
        Story().ran(2).express("Express", "PromptCalibProdSiStrip", "PromptCalibProdBrandNew"),
        4,
        *QUALITY,
    )
    assert judge(story, 5).verdict is Verdict.UNKNOWN


def test_released_with_calibrations_or_missed_without() -> None:
    story = prove(prove(two_workflow_run(), 4, *GAINS), 5, *QUALITY)
    story.at(49).fcsr(story.run + 1).released()
    assessment = judge(story, 50)
    assert assessment.verdict is Verdict.RELEASED

    late = prove(two_workflow_run(), 4, *GAINS)
    late.at(49).fcsr(late.run + 1)
    prove(late, 50, *QUALITY)
    missed = judge(late, 51)
    assert missed.verdict is Verdict.MISSED
    assert "SiStripQuality" in missed.reasons[0]


def test_overrides_are_applied_last_and_kept_apart() -> None:
    story = prove(two_workflow_run(), 4, *GAINS)
    start = T0 + timedelta(hours=4)
    force = Override(
        story.run,
        OverrideKind.FORCE_READY,
        "expert",
        "known bad strip",
        start,
        start + timedelta(hours=2),
    )
    assessment = judge(story, 5, overrides=(force,))
    assert assessment.verdict is Verdict.READY
    assert assessment.automatic_verdict is Verdict.PENDING
    assert judge(story, 7, overrides=(force,)).verdict is Verdict.PENDING  # expired

    hold = Override(
        story.run, OverrideKind.HOLD, "expert", "wait for gains", start, start + timedelta(days=1)
    )
    prove(story, 5, *QUALITY)
    held = judge(story, 6, overrides=(hold,))
    assert (held.verdict, held.automatic_verdict) == (Verdict.BLOCKED, Verdict.READY)

    ignore = Override(
        story.run,
        OverrideKind.IGNORE_WORKFLOW,
        "expert",
        "no strips",
        start,
        start + timedelta(days=1),
        workflow="SiStripQuality",
    )
    only_gains = prove(two_workflow_run(), 4, *GAINS)
    assert judge(only_gains, 5, overrides=(ignore,)).verdict is Verdict.READY


def test_exempt_run_classes_need_nothing() -> None:
    story = Story().ran(2, run_class="Commissioning26")
    policy = Policy(exempt_run_classes=("Commissioning.*",))
    assert judge(story, 3, policy=policy).verdict is Verdict.READY
