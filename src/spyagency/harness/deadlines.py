"""When time alone may change what the engine concludes, so a replay knows when to tick.

The engine's judgements are pure functions of knowledge, health, overrides and ``now``
(ADR 3, ADR 5). Between two batches only ``now`` moves, and each rule that reads it compares
``now`` with a moment known in advance. ``next_time_change`` collects those moments:

1. per open run: each workflow's timeout deadline, ``stop`` plus the harvest and upload
   timeouts, and for a run not yet locked, its lock-in and lock-in minus the deadline lead;
2. per workflow of an open run: the moment its current state has lasted ``stuck_after``;
3. per source that is failing: the moment it turns stale (a healthy source is polled before);
4. per override: its start, expiry and revocation.

A moment is returned one second late, because the rules use strict comparisons (``>``): a
tick at that moment already sees the change. Ticking at every returned moment (and after every
batch) therefore judges as a tick every few seconds would, for every run in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from spyagency.domain.health import SourceHealth
from spyagency.domain.overrides import Override
from spyagency.domain.policy import Policy
from spyagency.domain.states import Source
from spyagency.domain.verdict import RunAssessment

LATE = timedelta(seconds=1)


def run_moments(
    assessment: RunAssessment, state_since: Mapping[str, datetime], policy: Policy
) -> list[datetime]:
    moments: list[datetime] = []
    if assessment.stop is not None:
        moments += [
            assessment.stop + policy.harvest_timeout,
            assessment.stop + policy.upload_timeout,
        ]
    if assessment.lock_in_at is not None and assessment.locked_at is None:
        moments += [assessment.lock_in_at - policy.deadline_lead, assessment.lock_in_at]
    for workflow in assessment.workflows:
        if workflow.deadline is not None:
            moments.append(workflow.deadline)
        threshold = policy.stuck_after.get(workflow.state)
        since = state_since.get(workflow.workflow)
        if threshold is not None and since is not None:
            moments.append(since + threshold)
    return moments


def runs_due(
    assessments: Mapping[int, RunAssessment],
    judged_at: Mapping[int, datetime],
    state_since: Mapping[int, Mapping[str, datetime]],
    policy: Policy,
    now: datetime,
) -> set[int]:
    """The runs whose judgement time alone may have moved since each was last judged: one of
    their moments fell after that judgement and by ``now`` (with the same one second late as
    ``next_time_change``). Knowledge, health and overrides changes are the caller's to see."""
    due = set()
    for run, assessment in assessments.items():
        since = judged_at.get(run)
        if since is None:
            due.add(run)
            continue
        moments = run_moments(assessment, state_since.get(run, {}), policy)
        if any(since < m + LATE <= now for m in moments):
            due.add(run)
    return due


def health_moments(health: Mapping[Source, SourceHealth], policy: Policy) -> Iterable[datetime]:
    for source, record in health.items():
        threshold = policy.stale_after.get(source)
        if threshold is not None and record.consecutive_failures and record.last_success:
            yield record.last_success + threshold


def override_moments(overrides: Iterable[Override]) -> Iterable[datetime]:
    for override in overrides:
        yield override.created_at
        yield override.expires_at
        if override.revoked_at is not None:
            yield override.revoked_at


def next_time_change(
    assessments: Iterable[RunAssessment],
    state_since: Mapping[int, Mapping[str, datetime]],
    health: Mapping[Source, SourceHealth],
    overrides: Iterable[Override],
    policy: Policy,
    after: datetime,
) -> datetime | None:
    """The first moment later than ``after`` at which a tick may conclude something new."""
    moments: list[datetime] = []
    for assessment in assessments:
        moments += run_moments(assessment, state_since.get(assessment.run, {}), policy)
    moments += health_moments(health, policy)
    moments += override_moments(overrides)
    later = [m + LATE for m in moments if m + LATE > after]
    return min(later, default=None)
