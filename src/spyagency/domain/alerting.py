"""Which alerts should be open right now: a pure function of verdicts, states and health.

The engine compares this set with the alerts already open: new candidates open (or refresh)
an alert, open alerts that are no longer candidates resolve. Deduplication is by key, so a
condition that persists for hours is one alert, not one per poll.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from spyagency.domain.forecast import Forecast
from spyagency.domain.health import SourceHealth
from spyagency.domain.lifecycle import HARVEST_TROUBLE
from spyagency.domain.policy import Policy
from spyagency.domain.states import Source, Verdict, WorkflowState
from spyagency.domain.verdict import RunAssessment


class AlertKind(StrEnum):
    STUCK = "stuck"
    FAILED = "failed"
    REJECTED_LATE = "rejected_late"
    QUALITY_FAILED = "quality_failed"
    SOURCE_STALE = "source_stale"
    DEADLINE_AT_RISK = "deadline_at_risk"
    MISSED = "missed"
    # Locked in before the agency could judge it: no evidence either way (never critical).
    UNJUDGED = "unjudged"
    # The Tier-0 runs a PCL producer the catalogue does not know: the run cannot be proven.
    UNKNOWN_PRODUCER = "unknown_producer"
    # The forecast's 80% bound is past the lock-in: hours before a deadline alert would fire.
    FORECAST_LATE = "forecast_late"


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class AlertCandidate:
    kind: AlertKind
    severity: Severity
    summary: str
    description: str
    run: int | None = None
    workflow: str | None = None
    source: Source | None = None
    # What the alert is about right now (a workflow state, a verdict): an acknowledgement
    # holds only while this stays the same.
    state: str | None = None

    @property
    def dedupe_key(self) -> str:
        subject = self.source.value if self.source else f"{self.run}:{self.workflow or '*'}"
        return f"{self.kind.value}:{subject}"


FAILURE_KINDS: Mapping[WorkflowState, tuple[AlertKind, Severity]] = {
    WorkflowState.UPLOAD_FAILED: (AlertKind.FAILED, Severity.CRITICAL),
    WorkflowState.TIMED_OUT: (AlertKind.FAILED, Severity.CRITICAL),
    WorkflowState.QUALITY_FAILED: (AlertKind.QUALITY_FAILED, Severity.CRITICAL),
    # Often expected (replays, runs locked early): a warning, but it still blocks the run.
    WorkflowState.REJECTED_LATE: (AlertKind.REJECTED_LATE, Severity.WARNING),
}


def run_alerts(
    assessment: RunAssessment,
    state_since: Mapping[str, datetime],
    policy: Policy,
    now: datetime,
) -> list[AlertCandidate]:
    """Alerts for one run. ``state_since`` says since when each workflow is in its state."""
    run = assessment.run
    if assessment.verdict is Verdict.MISSED:
        return [
            AlertCandidate(
                AlertKind.MISSED,
                Severity.CRITICAL,
                f"run {run} locked in without its calibrations",
                "; ".join(assessment.reasons),
                run=run,
                state=assessment.verdict.value,
            )
        ]
    if assessment.verdict is Verdict.RELEASED:
        return []
    if assessment.verdict is Verdict.UNKNOWN and (
        assessment.locked_at is not None or assessment.released_at is not None
    ):
        return [
            AlertCandidate(
                AlertKind.UNJUDGED,
                Severity.WARNING,
                f"run {run} locked in; whether it had its calibrations is not known",
                "; ".join(assessment.reasons),
                run=run,
                state=assessment.verdict.value,
            )
        ]
    found: list[AlertCandidate] = []
    for workflow in assessment.counted:
        if workflow.ignored_by is not None:
            continue
        if workflow.state is WorkflowState.UNKNOWN and workflow.unknown_producer:
            found.append(
                AlertCandidate(
                    AlertKind.UNKNOWN_PRODUCER,
                    Severity.WARNING,
                    f"run {run}: the Tier-0 runs {workflow.workflow}, unknown to the catalogue",
                    "add it to the workflow catalogue, or ignore it for this run",
                    run=run,
                    workflow=workflow.workflow,
                    state=workflow.state.value,
                )
            )
            continue
        if workflow.state is WorkflowState.UNKNOWN:
            # Its state is hidden (a source it depends on is stale, or not known yet): nothing
            # new is raised, and what it already raised is held, not resolved (see
            # ``engine/alerts.py``), so a flapping source does not flap its alerts.
            continue
        evidence = "; ".join(e.what for e in workflow.evidence[:3])
        failure = FAILURE_KINDS.get(workflow.state)
        if failure is not None:
            kind, severity = failure
            found.append(
                AlertCandidate(
                    kind,
                    severity,
                    f"run {run} {workflow.workflow}: {workflow.state.value}",
                    evidence,
                    run=run,
                    workflow=workflow.workflow,
                    state=workflow.state.value,
                )
            )
            continue
        threshold = policy.stuck_after.get(workflow.state)
        since = state_since.get(workflow.workflow)
        if threshold is not None and since is not None and now - since > threshold:
            hours = (now - since).total_seconds() / 3600
            found.append(
                AlertCandidate(
                    AlertKind.STUCK,
                    Severity.WARNING,
                    f"run {run} {workflow.workflow}: {workflow.state.value} for {hours:.1f} h",
                    evidence,
                    run=run,
                    workflow=workflow.workflow,
                    state=workflow.state.value,
                )
            )
        # Only a job that failed or paused, and only while the workflow is not satisfied: a
        # harvest that wrote nothing (``no_payload``) is a success, and WMStats evidence of a
        # task's progress is no trouble.
        if not workflow.state.is_satisfied and any(
            e.source is Source.WMSTATS and e.what.startswith(HARVEST_TROUBLE)
            for e in workflow.evidence
        ):
            found.append(
                AlertCandidate(
                    AlertKind.FAILED,
                    Severity.WARNING,
                    f"run {run} {workflow.workflow}: harvest job failed or paused",
                    evidence,
                    run=run,
                    workflow=f"{workflow.workflow}/harvest-job",
                    state=workflow.state.value,
                )
            )
    at_risk = assessment.verdict in (Verdict.PENDING, Verdict.BLOCKED, Verdict.UNKNOWN)
    lock_in = assessment.lock_in_at
    unlocked = lock_in is not None and assessment.locked_at is None
    if at_risk and unlocked and lock_in is not None and now >= lock_in - policy.deadline_lead:
        left = lock_in - now
        when = (
            f"{_hours(left)} before its lock-in"
            if left > timedelta(0)
            else f"its lock-in passed {_hours(-left)} ago, not yet locked by the Tier-0"
        )
        found.append(
            AlertCandidate(
                AlertKind.DEADLINE_AT_RISK,
                Severity.CRITICAL,
                f"run {run} is {assessment.verdict.value}: {when}",
                "; ".join(assessment.reasons),
                run=run,
                state=assessment.verdict.value,
            )
        )
    return found


def _hours(span: timedelta) -> str:
    """``2 h 05 min``, ``45 min``: never a signed fraction of an hour."""
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def source_alerts(
    health: Mapping[Source, SourceHealth],
    policy: Policy,
    now: datetime,
    enabled: Iterable[Source],
) -> list[AlertCandidate]:
    found = []
    for source in enabled:
        record = health.get(source)
        threshold = policy.stale_after.get(source)
        # Not polled yet (the agency just started): nothing has gone wrong to alert about. The
        # verdicts still treat the source as stale (``stale_sources``) until it answers.
        polled = record is not None and (record.last_attempt or record.last_success)
        if threshold is None or record is None or not polled:
            continue
        if not record.is_stale(now, threshold):
            continue
        critical = source in policy.critical_sources
        if record.last_success is None:
            summary = f"source {source.value} has never answered since the agency started"
        else:
            summary = (
                f"source {source.value} stale (last success {record.last_success:%Y-%m-%d %H:%MZ})"
            )
        if record.last_error:
            description = f"last error: {record.last_error}"
        else:
            description = "polls are not completing (no error recorded: a hung request?)"
        found.append(
            AlertCandidate(
                AlertKind.SOURCE_STALE,
                Severity.CRITICAL if critical else Severity.WARNING,
                summary,
                description,
                source=source,
                state="stale",
            )
        )
    return found


def forecast_alerts(assessment: RunAssessment, forecast: Forecast) -> list[AlertCandidate]:
    """``forecast_late`` while a pending run's 80% forecast bound lies past its lock-in (a
    blocked or unknown run has alerts of its own, and no forecast)."""
    lock_in = assessment.lock_in_at
    high = forecast.high
    if (
        assessment.verdict is not Verdict.PENDING
        or lock_in is None
        or assessment.locked_at is not None
        or high is None
        or high <= lock_in
    ):
        return []
    return [
        AlertCandidate(
            AlertKind.FORECAST_LATE,
            Severity.WARNING,
            f"run {assessment.run} may miss its lock-in at {lock_in:%Y-%m-%d %H:%M}Z",
            "the 80% interval of its forecast ends after the lock-in (see the run page)",
            run=assessment.run,
            state=assessment.verdict.value,
        )
    ]
