"""Properties of the rules that must hold for every history, not only the ones we thought of."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from spyagency.domain.facts import (
    HarvestFile,
    HarvestJob,
    IovSeen,
    UploadMarker,
    fact_from_dict,
    fact_to_dict,
)
from spyagency.domain.health import SourceHealth
from spyagency.domain.iov import TimeType, lumi_since
from spyagency.domain.observation import Observation
from spyagency.domain.states import (
    DqmStatus,
    HarvestJobState,
    Source,
    UploadOutcome,
    Verdict,
    WorkflowState,
)
from tests.domain.world import T0, Story, hash_of, healthy, judge

WORKFLOWS = {
    # name: (producer, input tag, destination tag, time type)
    "SiStripGains": (
        "PromptCalibProdSiStripGains",
        "SiStripApvGain_pcl",
        "SiStripApvGain_PCL_v0_prompt",
        TimeType.RUN,
    ),
    "SiStripQuality": (
        "PromptCalibProdSiStrip",
        "SiStripBadStrip_pcl",
        "SiStripBadChannel_PCL_v1_hlt",
        TimeType.RUN,
    ),
    "LumiPCC": (
        "PromptCalibProdLumiPCC",
        "LumiPCCCorrections_pcl",
        "LumiPCC_Corrections_prompt",
        TimeType.LUMI,
    ),
}
OTHER_TAG = "Some_other_tag_v1"


@st.composite
def histories(draw: st.DrawFn) -> Story:
    """A run with up to three workflows and a random subset of every kind of trace."""
    story = Story().ran(draw(st.floats(0.5, 8)))
    chosen = draw(st.lists(st.sampled_from(sorted(WORKFLOWS)), min_size=1, max_size=3, unique=True))
    story.express("Express", *(WORKFLOWS[w][0] for w in chosen), "TkAlMinBias")
    hour = 9.0
    for name in chosen:
        _, input_tag, tag, time_type = WORKFLOWS[name]
        since = (
            story.run
            if time_type is TimeType.RUN
            else lumi_since(story.run, draw(st.integers(1, 50)))
        )
        if draw(st.booleans()):
            story.at(hour).stream_done("Express")
        if draw(st.booleans()):
            story.at(hour).iov(
                tag,
                payload="old",
                since=1 if time_type is TimeType.RUN else lumi_since(1, 1),
                time_type=time_type,
            )
        if draw(st.booleans()):
            story.at(hour + 1).harvested(input_tag, (tag,), payload=name)
            if draw(st.booleans()):
                story.at(hour + 1.5).marker(
                    input_tag, (tag, *([OTHER_TAG] if draw(st.booleans()) else []))
                )
            outcome = draw(st.sampled_from([None, *UploadOutcome]))
            if outcome is not None:
                story.upload(input_tag, tag, outcome)
            iov_kind = draw(
                st.sampled_from(["none", "right", "wrong_hash", "wrong_tag", "too_early"])
            )
            if iov_kind == "too_early":
                story.at(hour + 0.5).iov(tag, payload=name, since=since, time_type=time_type)
            elif iov_kind != "none":
                story.at(hour + 2).iov(
                    OTHER_TAG if iov_kind == "wrong_tag" else tag,
                    payload=name if iov_kind != "wrong_hash" else "forged",
                    since=since,
                    time_type=time_type,
                )
        elif draw(st.booleans()):
            # The report of this producer's task, another producer's, or an unattributed one.
            producer = draw(st.sampled_from([WORKFLOWS[name][0], "PromptCalibProdOther", ""]))
            story.at(hour + 1).harvest_job(
                "Express",
                draw(st.sampled_from(list(HarvestJobState))),
                "/no/output",
                producer=producer,
            )
        if draw(st.booleans()):
            story.at(hour + 2).dqm(
                name, draw(st.sampled_from(list(DqmStatus))), vetoed=draw(st.booleans())
            )
        hour += 0.25
    return story


def _facts(story: Story, cls: type) -> list:  # type: ignore[type-arg]
    return [o.fact for o in story.observations if isinstance(o.fact, cls)]


def proven_in_db(story: Story, name: str) -> bool:
    """An independent, deliberately plain restatement of the proof rule."""
    _, input_tag, _, time_type = WORKFLOWS[name]
    iovs = _facts(story, IovSeen)
    for harvest in _facts(story, HarvestFile):
        if harvest.input_tag != input_tag:
            continue
        markers = [
            m
            for m in _facts(story, UploadMarker)
            if m.uuid == harvest.uuid and m.input_tag == input_tag
        ]
        tags = markers[-1].destination_tags if markers else harvest.destination_tags
        ok = True
        for tag in tags:
            candidates = [i for i in iovs if i.tag == tag]
            if time_type is TimeType.RUN:
                below = [i for i in candidates if i.since <= story.run]
                top = max((i.since, i.insertion_time) for i in below) if below else None
                covering = [i for i in below if (i.since, i.insertion_time) == top]
            else:
                covering = [i for i in candidates if i.since >> 32 == story.run]
                earlier = [i for i in candidates if i.since >> 32 < story.run]
                if earlier:
                    top = max((i.since, i.insertion_time) for i in earlier)
                    covering += [i for i in earlier if (i.since, i.insertion_time) == top]
            if not any(
                i.payload_hash in harvest.payload_hashes and i.insertion_time >= harvest.created
                for i in covering
            ):
                ok = False
        if ok and tags:
            return True
    return False


def evidence_of_no_payload(story: Story, name: str) -> bool:
    _, input_tag, _, _ = WORKFLOWS[name]
    if any(h.input_tag == input_tag for h in _facts(story, HarvestFile)):
        return False
    producer = WORKFLOWS[name][0]
    jobs = [j for j in _facts(story, HarvestJob) if j.state is HarvestJobState.SUCCESS]
    return any(j.producer == producer and "/no/output" in j.outputs for j in jobs)


@settings(max_examples=300, deadline=None)
@given(histories(), st.floats(9, 40))
def test_never_ready_while_a_required_workflow_lacks_proof(story: Story, hours: float) -> None:
    assessment = judge(story, hours)
    for workflow in assessment.counted:
        if workflow.state is WorkflowState.IN_DB:
            assert proven_in_db(story, workflow.workflow), workflow
        if workflow.state is WorkflowState.NO_PAYLOAD:
            assert evidence_of_no_payload(story, workflow.workflow), workflow
    if assessment.verdict is Verdict.READY:
        assert assessment.counted
        for workflow in assessment.counted:
            assert workflow.state in (WorkflowState.IN_DB, WorkflowState.NO_PAYLOAD)


@settings(max_examples=150, deadline=None)
@given(
    histories(),
    st.floats(9, 40),
    st.sampled_from([Source.TIER0, Source.OMS, Source.HARVEST, Source.CONDDB]),
    st.booleans(),
)
def test_a_stale_or_missing_input_gives_unknown_never_ready(
    story: Story, hours: float, source: Source, never: bool
) -> None:
    now = T0 + timedelta(hours=hours)
    health = healthy(now)
    if never:
        del health[source]
    else:
        health[source] = SourceHealth(source, last_success=now - timedelta(days=1))
    assessment = judge(story, hours, health=health)
    assert assessment.verdict is Verdict.UNKNOWN
    assert all(w.state is not WorkflowState.NO_PAYLOAD for w in assessment.workflows)


@settings(max_examples=150, deadline=None)
@given(histories(), st.floats(9, 40))
def test_removing_the_condb_evidence_never_makes_a_run_ready(story: Story, hours: float) -> None:
    without = [o for o in story.observations if o.source is not Source.CONDDB]
    assert judge(story, hours, observations=without).verdict is not Verdict.READY


@settings(max_examples=150, deadline=None)
@given(histories(), st.floats(9, 40), st.randoms(use_true_random=False))
def test_folding_in_any_order_gives_the_same_state(
    story: Story, hours: float, rng: random.Random
) -> None:
    shuffled = list(story.observations)
    rng.shuffle(shuffled)
    assert judge(story, hours, observations=shuffled) == judge(story, hours)


@settings(max_examples=100, deadline=None)
@given(histories(), st.floats(9, 40))
def test_replaying_stored_observations_reproduces_the_state(story: Story, hours: float) -> None:
    stored = [
        Observation(
            o.source, o.observed_at, fact_from_dict(fact_to_dict(o.fact)), o.raw, o.fact_time
        )
        for o in story.observations
    ]
    assert judge(story, hours, observations=stored) == judge(story, hours)


def test_the_history_strategy_reaches_every_verdict_and_proof() -> None:
    """Guard against a strategy that never exercises the interesting cases."""
    seen: set[Verdict] = set()
    proofs = 0

    @settings(max_examples=300, deadline=None, database=None)
    @given(histories())
    def collect(story: Story) -> None:
        nonlocal proofs
        assessment = judge(story, 12)
        seen.add(assessment.verdict)
        proofs += sum(w.state is WorkflowState.IN_DB for w in assessment.workflows)

    collect()
    assert {Verdict.READY, Verdict.PENDING, Verdict.BLOCKED} <= seen
    assert proofs > 0
    assert hash_of("x") != hash_of("y")
