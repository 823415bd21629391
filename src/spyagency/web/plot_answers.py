"""The answers behind the plots, read from one transaction: the API serves them as JSON and the
pages print the very same numbers in the tables under each plot."""

from __future__ import annotations

from datetime import datetime, timedelta

from spyagency.domain.policy import Policy
from spyagency.domain.states import Source, WorkflowState
from spyagency.store.events import EventKind
from spyagency.store.poll_history import hour_of
from spyagency.store.run_timing import RunTiming
from spyagency.store.uow import Transaction
from spyagency.web.plots.binning import histogram
from spyagency.web.plots.five_numbers import five_numbers
from spyagency.web.plots.state_bars import CurrentState, StateChange, state_bars
from spyagency.web.plots.weekly import Release, releases_per_week
from spyagency.web.schemas.kpi import (
    ProofLatency,
    ProofLatencyBox,
    ReleaseHistogram,
    ReleasesPerWeek,
    WeekOfReleases,
)
from spyagency.web.schemas.runs import RunStateBars, StateBar
from spyagency.web.schemas.sources import SourceHistory, SourcePollHours

HOUR = timedelta(hours=1)
# Released this much before the timer counts as early: the Tier-0 polls, it is not instant.
TIMER_TOLERANCE = timedelta(minutes=5)


def early_before(policy: Policy) -> timedelta:
    """A release sooner than this after the run stop was the agency's doing, not the timer's."""
    return policy.reco_delay - TIMER_TOLERANCE


def releases(timings: list[RunTiming]) -> list[Release]:
    return [
        Release(item.run, item.stop, item.released_at)
        for item in timings
        if item.released_at is not None
    ]


def release_histogram(tx: Transaction, policy: Policy, since: datetime) -> ReleaseHistogram:
    released = releases(tx.run_timing.stopped_since(since))
    bins = histogram([item.hours for item in released])
    return ReleaseHistogram(
        edges_hours=bins.edges,
        counts=bins.counts,
        released=len(released),
        timer_hours=policy.reco_delay / HOUR,
    )


def weekly_releases(tx: Transaction, policy: Policy, since: datetime) -> ReleasesPerWeek:
    released = releases(tx.run_timing.stopped_since(since))
    weeks = releases_per_week(released, early_before(policy))
    return ReleasesPerWeek(
        timer_hours=policy.reco_delay / HOUR,
        weeks=[
            WeekOfReleases(
                week_start=week.week_start,
                released=week.released,
                early=week.early,
                median_hours=week.median_hours,
                max_hours=week.max_hours,
            )
            for week in weeks
        ],
    )


def proof_latency(tx: Transaction, since: datetime) -> ProofLatency:
    boxes = []
    for workflow, hours in sorted(tx.run_timing.proof_hours_by_workflow(since).items()):
        numbers = five_numbers(hours)
        if numbers is None:
            continue
        boxes.append(
            ProofLatencyBox(
                workflow=workflow,
                count=numbers.count,
                min_hours=numbers.minimum,
                q1_hours=numbers.q1,
                median_hours=numbers.median,
                q3_hours=numbers.q3,
                max_hours=numbers.maximum,
            )
        )
    return ProofLatency(workflows=boxes)


def run_state_bars(tx: Transaction, policy: Policy, run: int, now: datetime) -> RunStateBars | None:
    """None for a run the agency does not know."""
    record = tx.states.get_run(run)
    if record is None:
        return None
    assessment = record.assessment
    changes = [
        StateChange(event.at, event.workflow, event.old, event.new)
        for event in tx.events.for_run(run)
        if event.kind == EventKind.WORKFLOW_STATE and event.workflow is not None
    ]
    current = [CurrentState(w.workflow, w.state.value, w.state_since) for w in record.workflows]
    final_at = assessment.released_at or assessment.locked_at or record.verdict_since
    end = final_at if assessment.verdict.is_final else now
    known = {state.value for state in WorkflowState}
    # A state an older version stored and this one no longer knows has no colour to draw.
    bars = [bar for bar in state_bars(changes, current, end) if bar.state in known]
    lanes = list(dict.fromkeys(bar.workflow for bar in bars))
    stop = assessment.stop
    return RunStateBars(
        run=run,
        now=now,
        stop=stop,
        end=end,
        harvest_deadline=stop + policy.harvest_timeout if stop else None,
        upload_deadline=stop + policy.upload_timeout if stop else None,
        lock_in=assessment.lock_in_at or (stop + policy.lock_in_delay() if stop else None),
        workflows=lanes,
        bars=[
            StateBar(
                workflow=bar.workflow,
                state=WorkflowState(bar.state),
                start=bar.start,
                end=bar.end,
            )
            for bar in bars
        ],
    )


def source_history(tx: Transaction, now: datetime, days: int) -> SourceHistory:
    """Every hour of the last ``days`` days up to now's hour, for every source (zeros where a
    source was not polled)."""
    last = hour_of(now)
    count = days * 24
    hours = [last - HOUR * (count - 1 - index) for index in range(count)]
    index = {hour: position for position, hour in enumerate(hours)}
    successes = {source: [0] * count for source in Source}
    failures = {source: [0] * count for source in Source}
    for item in tx.poll_history.since(hours[0]):
        position = index.get(item.hour)
        if position is None:
            continue  # a clock that moved back: an hour after now
        successes[item.source][position] = item.successes
        failures[item.source][position] = item.failures
    return SourceHistory(
        hours=hours,
        sources=[
            SourcePollHours(source=source, successes=successes[source], failures=failures[source])
            for source in Source
        ],
    )
