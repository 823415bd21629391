"""The JSON shapes of API version 1. Field names are the public vocabulary (docs/adr/0004,
the readiness contract); adding a field is compatible, renaming or removing one needs
``/api/v2``."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from spyagency.domain.overrides import OverrideKind
from spyagency.domain.states import Source, Verdict, WorkflowState


def storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL: store the replacement character on every backend."""
    return text.replace("\x00", "\ufffd")


def says_something(text: str) -> str:
    """A reason must hold at least one visible character: blanks, zero-width and other
    format characters alone (which pass a length check) say nothing."""
    if not any(not ch.isspace() and unicodedata.category(ch) not in INVISIBLE for ch in text):
        raise ValueError("must say something: only blank or invisible characters given")
    return text


INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})

# Free text a person types (why, reason): kept verbatim but for NUL, and never blank.
FreeText = Annotated[
    str,
    Field(min_length=1, max_length=2000),
    AfterValidator(says_something),
    AfterValidator(storable),
]


# Workflow names are catalogue identifiers; anything else is refused before any query.
WORKFLOW_NAME = r"^[A-Za-z0-9_.-]+$"


class Schema(BaseModel):
    model_config = ConfigDict(frozen=True)


class Problem(Schema):
    """Every error body: ``detail`` is a message, or a list of validation errors."""

    detail: Any


class Evidence(Schema):
    source: Source | None = Field(description="where it was seen; None for a rule's own note")
    what: str
    at: datetime | None = None
    ref: str | None = Field(None, description="a pointer to the raw record (tag, file, log)")


class Workflow(Schema):
    workflow: str
    state: WorkflowState
    state_since: datetime
    evidence: list[Evidence]
    proven_at: datetime | None
    deadline: datetime | None
    counted: bool = Field(description="required for this run's verdict")
    optional: bool
    ignored_by: str | None = Field(description="the override that excuses it, if any")


class Override(Schema):
    id: int
    run: int
    kind: OverrideKind
    workflow: str | None
    who: str
    why: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    active: bool
    description: str


class RunSummary(Schema):
    run: int
    verdict: Verdict
    automatic_verdict: Verdict
    reasons: list[str]
    verdict_since: datetime
    stop: datetime | None
    lock_in_at: datetime | None
    released_at: datetime | None
    proof_complete_at: datetime | None
    overridden: bool = Field(description="an override changed the automatic verdict")
    updated_at: datetime


class RunPage(Schema):
    items: list[RunSummary]
    next_before_run: int | None = Field(description="pass as before_run for the next page")


class RunDetail(RunSummary):
    """The run's summary line, and everything behind it."""

    version: int
    locked_at: datetime | None
    stale_sources: list[Source]
    workflows: list[Workflow]
    overrides: list[Override] = Field(description="expert overrides in force now")
    override_history: list[Override] = Field(description="every override ever given")
    forecast: RunForecast | None = Field(
        default=None, description="when the run's last calibration will be provable"
    )


class TimelineEntry(Schema):
    id: int
    source: Source
    kind: str
    observed_at: datetime
    fact_time: datetime | None
    fact: dict[str, Any]
    raw: str
    raw_truncated: bool


class Event(Schema):
    id: int
    at: datetime
    run: int | None
    workflow: str | None
    kind: str
    old: str | None
    new: str | None
    detail: dict[str, Any]


class ReadinessSignal(Schema):
    run: int
    verdict: Literal["ready"]
    idempotency_key: str
    decided_at: datetime
    evidence_url: str


class QueueHead(Schema):
    run: int
    verdict: str
    reasons: list[str]
    verdict_since: datetime


class Queue(Schema):
    """The head of the line: the Tier-0 releases in run order, so the lowest run that is not
    ready, locked or final holds back every ready run above it."""

    generated_at: datetime
    head: QueueHead | None = Field(description="the run the ready runs above wait for")
    held_runs: list[int] = Field(description="ready runs above the head, lowest first")
    holding_since: datetime | None = Field(
        description="since when the head holds a ready run back (null: it holds none)"
    )


class Readiness(Schema):
    api_version: Literal["1"] = "1"
    generated_at: datetime
    signals: list[ReadinessSignal]
    signals_enabled: bool = Field(description="false: the kill switch is off, no run is ready")
    dry_run: bool = Field(description="signals are recorded but not pushed")
    held_by: int | None = Field(
        default=None,
        description="the run every later ready run waits for (see /api/v1/queue), if any",
    )


class WorkflowOverview(Schema):
    workflow: str
    producer: str
    description: str
    runs_by_state: dict[WorkflowState, int]
    open_runs_by_state: dict[WorkflowState, int]


class WorkflowRun(Schema):
    run: int
    state: WorkflowState
    state_since: datetime
    proven_at: datetime | None
    run_stop: datetime | None
    harvest_hours: float | None = Field(description="run stop -> first harvest evidence")
    upload_hours: float | None = Field(description="run stop -> proven in the CondDB")


class WorkflowHistory(Schema):
    workflow: str
    items: list[WorkflowRun]
    next_before_run: int | None


class SourceStatus(Schema):
    source: Source
    last_success: datetime | None
    last_attempt: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    last_error_raw: str | None
    consecutive_failures: int
    stale: bool
    stale_after_minutes: float
    critical: bool = Field(description="a stale critical source makes open runs unknown")


class Alert(Schema):
    id: int
    dedupe_key: str
    kind: str
    severity: str
    run: int | None
    workflow: str | None
    source: str | None
    message: str
    description: str
    state: str | None
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    is_open: bool


class Alerts(Schema):
    open: list[Alert]
    history: list[Alert]
    next_before_id: int | None


class NewOverride(Schema):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: OverrideKind
    run: int = Field(ge=1, le=2**62)
    workflow: str | None = Field(None, min_length=1, max_length=128, pattern=WORKFLOW_NAME)
    why: FreeText
    expires_in_hours: float = Field(gt=0, le=168)


class SignalSwitch(Schema):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool
    reason: FreeText


class SignalControl(Schema):
    signals_enabled: bool = Field(description="what the agency does: configured and switched on")
    configured: bool = Field(description="the configuration file's signals.enabled")
    switch: bool = Field(description="the experts' runtime switch")
    changed_by: str | None
    changed_at: datetime | None
    reason: str | None
    dry_run: bool


class AuditEntry(Schema):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


class AuditPage(Schema):
    items: list[AuditEntry]
    next_before_id: int | None


class ReleasedRun(Schema):
    run: int
    stop: datetime
    released_at: datetime
    hours: float = Field(description="run stop -> PromptReco release")
    early: bool = Field(description="released on the agency's signal, before the 48 h timer")


class Distribution(Schema):
    count: int
    median_hours: float | None
    p90_hours: float | None


class MonthCount(Schema):
    month: str = Field(description="YYYY-MM of the run stop")
    missed: int


class Kpi(Schema):
    released: list[ReleasedRun]
    early: int
    on_timer: int
    release_hours: Distribution
    missed_per_month: list[MonthCount]
    forecast_score: ForecastScore | None = Field(
        default=None, description="how the forecasts of final runs compared with what happened"
    )


class Liveness(Schema):
    status: Literal["ok"] = "ok"
    version: str


class ReadinessProbe(Schema):
    status: Literal["ok", "no_leader", "unavailable", "read_only"]
    database: bool
    leader: str | None = Field(
        default=None, description="the leading engine, as an opaque id (changes with it)"
    )
    leader_epoch: int | None = Field(default=None, description="grows at every change of leader")


class Me(Schema):
    name: str | None
    role: str | None = Field(description="viewer, operator or expert")
    via: Literal["token", "session"] | None
    csrf_token: str = Field(description="send as X-CSRF-Token with session actions")


class Withdrawal(Schema):
    """Why an override is withdrawn before its expiry: withdrawing changes a verdict, so the
    audit log must say why, as it does for placing one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: FreeText


class Acknowledgement(Schema):
    """An acknowledgement may say what is being done about the alert (optional: a busy
    operator's one click must still work), kept in the audit log."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    note: FreeText | None = None


# The plots' numbers (drawn by the pages from these answers, printed in tables beneath).


class ReleaseHistogram(Schema):
    edges_hours: list[float] = Field(
        description="bin i holds the delays in [edges_hours[i], edges_hours[i+1]), run stop "
        "to PromptReco release; even widths chosen from the data, no empty bin at either end"
    )
    counts: list[int] = Field(description="released runs per bin")
    released: int = Field(description="released runs counted (the sum of counts)")
    timer_hours: float = Field(description="the Tier-0's timer: release this long after stop")


class WeekOfReleases(Schema):
    week_start: date = Field(description="the Monday (UTC) of the week the runs stopped")
    released: int
    early: int = Field(description="released before the timer, on the agency's signal")
    median_hours: float
    max_hours: float


class ReleasesPerWeek(Schema):
    timer_hours: float
    weeks: list[WeekOfReleases] = Field(description="weeks with a release, oldest first")


class ProofLatencyBox(Schema):
    workflow: str
    count: int = Field(description="runs whose workflow was proven in the CondDB")
    min_hours: float
    q1_hours: float
    median_hours: float
    q3_hours: float
    max_hours: float


class ProofLatency(Schema):
    workflows: list[ProofLatencyBox] = Field(
        description="run stop -> proof in the CondDB, per workflow (quartiles interpolated)"
    )


class StateBar(Schema):
    workflow: str
    state: WorkflowState
    start: datetime
    end: datetime


class RunStateBars(Schema):
    run: int
    now: datetime
    stop: datetime | None
    end: datetime = Field(description="where open bars end: now, or when the run became final")
    harvest_deadline: datetime | None
    upload_deadline: datetime | None
    lock_in: datetime | None
    workflows: list[str] = Field(description="one lane each, top to bottom")
    bars: list[StateBar]


class SourcePollHours(Schema):
    source: Source
    successes: list[int] = Field(description="successful polls in each hour of hours")
    failures: list[int] = Field(description="failed polls in each hour of hours")


class SourceHistory(Schema):
    hours: list[datetime] = Field(description="every hour of the window, oldest first")
    sources: list[SourcePollHours]


class WorkflowForecast(Schema):
    workflow: str
    median: datetime | None
    low: datetime | None = Field(description="10th percentile")
    high: datetime | None = Field(description="90th percentile")
    samples: int = Field(description="proven past runs of this workflow behind it (0: proven)")
    failure_chance: float = Field(description="share of past runs where it ended in a failure")


Calibration = Literal["calibrated", "uncalibrated", "unscored"]


class RunForecast(Schema):
    """When the run's last calibration will be provable, if no workflow fails (ADR 11)."""

    known: bool = Field(description="false: no forecast; reason says why")
    reason: str | None = Field(description="why there is no forecast (null when known)")
    made_at: datetime | None = Field(description="when the engine made this forecast")
    median: datetime | None
    low: datetime | None = Field(description="start of the 80% interval (10th percentile)")
    high: datetime | None = Field(description="end of the 80% interval (90th percentile)")
    median_hours_from_now: float | None
    low_hours_from_now: float | None
    high_hours_from_now: float | None
    lock_in_at: datetime | None
    late: bool = Field(description="the 80% interval ends after the lock-in (forecast_late)")
    failure_chance: float | None = Field(description="chance that a workflow fails instead")
    samples: int | None = Field(description="fewest proven past runs behind a workflow")
    calibration: Calibration = Field(
        description="how the 80% intervals of the last 28 days of final runs fared: "
        "calibrated (coverage near 80%), uncalibrated, or unscored (too few yet)"
    )
    show_as_forecast: bool = Field(
        description="known and calibrated: only then may a page present the interval as a forecast"
    )
    workflows: list[WorkflowForecast]


class ForecastScoreRow(Schema):
    week: str = Field(description="ISO week of the run stop (2026-W09), or 'all'")
    horizon: Literal["stop", "1h", "6h"] = Field(description="forecast kept at this moment")
    count: int = Field(description="forecasts scored (known, of runs released proven)")
    median_abs_error_hours: float | None = Field(description="median |median - actual|")
    coverage: float | None = Field(description="share of actual proof times inside the 80%")
    calibration: Calibration


class ForecastScore(Schema):
    weeks: list[ForecastScoreRow] = Field(description="per week and horizon, oldest first")
    overall: list[ForecastScoreRow] = Field(description="per horizon, every week together")
    calibration: Calibration = Field(description="the last 28 days, every horizon: what runs show")


RunDetail.model_rebuild()
Kpi.model_rebuild()
