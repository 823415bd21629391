from dataclasses import replace
from datetime import timedelta

from spyagency.domain.alerting import AlertKind, Severity, run_alerts, source_alerts
from spyagency.domain.health import SourceHealth
from spyagency.domain.policy import Policy
from spyagency.domain.states import HarvestJobState, Source, UploadOutcome, WorkflowState
from tests.domain.world import T0, Story, judge

GAINS_TAG = "SiStripApvGain_PCL_v0_prompt"


def gains() -> Story:
    return Story().ran(2).express("Express", "PromptCalibProdSiStripGains")


def kinds(story: Story, hours: float, since_hours: float | None = None) -> set[AlertKind]:
    assessment = judge(story, hours)
    since = {} if since_hours is None else {"SiStripGains": T0 + timedelta(hours=since_hours)}
    return {a.kind for a in run_alerts(assessment, since, Policy(), T0 + timedelta(hours=hours))}


def test_stuck_only_after_the_state_threshold() -> None:
    story = gains().at(3).stream_done("Express")
    assert kinds(story, 8, since_hours=3) == set()  # harvesting 5 h < 6 h
    assert kinds(story, 9.5, since_hours=3) == {AlertKind.STUCK}


def test_failures_alert_with_their_kind() -> None:
    story = gains().at(4).harvested("SiStripApvGain_pcl", (GAINS_TAG,))
    story.marker("SiStripApvGain_pcl", (GAINS_TAG,))
    story.upload("SiStripApvGain_pcl", GAINS_TAG, UploadOutcome.REJECTED_LATE, info="late")
    assert kinds(story, 5) == {AlertKind.REJECTED_LATE}


def test_a_failed_harvest_job_raises_an_alert_before_any_timeout() -> None:
    story = gains().at(3).stream_done("Express").harvest_job("Express", HarvestJobState.FAILED)
    assert AlertKind.FAILED in kinds(story, 4)


def test_deadline_at_risk_inside_the_lead_time() -> None:
    story = gains()
    lock_in = 2 + 47.5
    assert AlertKind.DEADLINE_AT_RISK not in kinds(story, lock_in - 6.5)
    assert AlertKind.DEADLINE_AT_RISK in kinds(story, lock_in - 5.5)


def test_source_staleness_is_critical_for_critical_sources() -> None:
    now = T0 + timedelta(hours=1)
    health = {
        Source.CONDDB: SourceHealth(Source.CONDDB, last_success=now - timedelta(hours=1)),
        Source.DQM: SourceHealth(Source.DQM, last_success=now - timedelta(hours=2)),
        Source.TIER0: SourceHealth(Source.TIER0, last_success=now),
        Source.HARVEST: SourceHealth(
            Source.HARVEST, last_attempt=now, last_error="cannot list /eos", last_error_at=now
        ),
    }
    enabled = [Source.CONDDB, Source.DQM, Source.TIER0, Source.HARVEST, Source.OMS]
    alerts = source_alerts(health, Policy(), now, enabled)
    by_source = {a.source: a.severity for a in alerts}
    assert by_source == {
        Source.CONDDB: Severity.CRITICAL,
        Source.DQM: Severity.WARNING,
        Source.HARVEST: Severity.CRITICAL,  # tried, never answered
        # OMS: not polled yet (the agency just started): nothing went wrong yet
    }
    assert len({a.dedupe_key for a in alerts}) == 3
    (harvest,) = [a for a in alerts if a.source is Source.HARVEST]
    assert "never answered" in harvest.summary and "cannot list /eos" in harvest.description


def test_a_workflow_hidden_by_a_stale_source_raises_nothing_new() -> None:
    story = gains().at(3).stream_done("Express").harvest_job("Express", HarvestJobState.FAILED)
    hours = 4
    assessment = judge(story, hours)
    assert AlertKind.FAILED in kinds(story, hours)
    hidden = replace(
        assessment,
        workflows=tuple(replace(w, state=WorkflowState.UNKNOWN) for w in assessment.workflows),
    )
    now = T0 + timedelta(hours=hours)
    assert [a for a in run_alerts(hidden, {}, Policy(), now) if a.workflow] == []


def test_a_harvest_that_wrote_nothing_raises_no_failure_alert() -> None:
    story = gains().at(1).iov("SiStripApvGain_PCL_v0_prompt", since=1)
    story.iov("SiStripApvGain_PCL_v0_hlt", since=1)
    story.at(3).harvest_job(
        "Express", HarvestJobState.SUCCESS, "/no/output", producer="PromptCalibProdSiStripGains"
    )
    assert judge(story, 4).workflow("SiStripGains").state.value == "no_payload"  # type: ignore[union-attr]
    assert AlertKind.FAILED not in kinds(story, 4)


def test_a_deadline_alert_past_the_lock_in_says_so_in_words() -> None:
    story = gains()
    lock_in = 2 + 47.5
    before = run_alerts(
        judge(story, lock_in - 2.25), {}, Policy(), T0 + timedelta(hours=lock_in - 2.25)
    )
    after = run_alerts(
        judge(story, lock_in + 0.5), {}, Policy(), T0 + timedelta(hours=lock_in + 0.5)
    )
    (soon,) = [a for a in before if a.kind is AlertKind.DEADLINE_AT_RISK]
    (late,) = [a for a in after if a.kind is AlertKind.DEADLINE_AT_RISK]
    assert soon.summary.endswith("2 h 15 min before its lock-in")
    assert "lock-in passed 30 min ago" in late.summary and " -0" not in late.summary
