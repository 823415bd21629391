"""The runs resource: a page of run summaries, one run in full (its workflows with their
evidence, its overrides and its forecast), and a run's timeline, change events and
workflow-state bars (the numbers of the run page's state plot)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from spyagency.domain.states import Source, Verdict, WorkflowState
from spyagency.web.schemas.base import Schema
from spyagency.web.schemas.forecasts import RunForecast
from spyagency.web.schemas.overrides import Override


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
