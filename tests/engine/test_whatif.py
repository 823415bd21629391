from spyagency.domain.catalogue import load_catalogue
from spyagency.domain.policy import Policy
from spyagency.domain.states import Verdict
from spyagency.engine.whatif import compare_policies
from tests.domain.world import T0, Story

GAINS = ("SiStripApvGain_pcl", ("SiStripApvGain_PCL_v0_prompt",))


def test_an_optional_workflow_makes_the_run_ready_earlier_and_the_difference_shows() -> None:
    story = (
        Story().ran(2).express("Express", "PromptCalibProdSiStripGains", "PromptCalibProdSiStrip")
    )
    story.at(3).harvested(*GAINS).marker(*GAINS).at(3.5).iov(GAINS[1][0])
    quality = ("SiStripBadStrip_pcl", ("SiStripBadChannel_PCL_v1_hlt",))
    story.at(6).harvested(*quality).marker(*quality).at(6.5).iov(quality[1][0])
    results = compare_policies(
        story.observations,
        load_catalogue(),
        Policy(),
        Policy(optional_workflows=frozenset({"SiStripQuality"})),
    )
    comparison = results[story.run]
    baseline, alternative = comparison.ready_at
    assert alternative is not None and baseline is not None
    assert (baseline - T0).total_seconds() == 6.5 * 3600
    assert (alternative - T0).total_seconds() == 3.5 * 3600
    assert comparison.differs
    assert comparison.final == (Verdict.READY, Verdict.READY)


def test_identical_policies_never_differ() -> None:
    story = Story().ran(2).express("Express", "PromptCalibProdSiStripGains")
    story.at(3).harvested(*GAINS).marker(*GAINS).at(3.5).iov(GAINS[1][0])
    results = compare_policies(story.observations, load_catalogue(), Policy(), Policy())
    assert not any(c.differs for c in results.values())
    assert results[story.run].baseline == results[story.run].alternative
