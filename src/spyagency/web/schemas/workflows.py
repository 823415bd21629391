"""The workflows resource: each catalogue workflow with its runs counted by state, and one
workflow's history run after run."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from spyagency.domain.states import WorkflowState
from spyagency.web.schemas.base import Schema


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
