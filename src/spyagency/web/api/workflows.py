"""Workflows: how each calibration fares across runs, and how long it takes after the run stop."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from spyagency.domain.states import Source, WorkflowState
from spyagency.store.run_records import WorkflowRecord
from spyagency.web.authorization import Action
from spyagency.web.paging import keyset_page
from spyagency.web.params import MAX_RUN
from spyagency.web.schemas.base import Problem
from spyagency.web.schemas.inputs import WORKFLOW_NAME
from spyagency.web.schemas.workflows import WorkflowHistory, WorkflowOverview, WorkflowRun
from spyagency.web.security import require
from spyagency.web.services import WebServices

HOUR = timedelta(hours=1)
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "no such workflow"}
}


def hours_after(stop: datetime | None, moment: datetime | None) -> float | None:
    if stop is None or moment is None:
        return None
    return round((moment - stop) / HOUR, 3)


def first_harvest(record: WorkflowRecord) -> datetime | None:
    """When the harvest output was first seen, from the evidence the state was built on."""
    seen = [e.at for e in record.evidence if e.source is Source.HARVEST and e.at is not None]
    return min(seen) if seen else None


def router(services: WebServices) -> APIRouter:
    api = APIRouter(tags=["workflows"], dependencies=[Depends(require(Action.READ))])

    @api.get("/workflows", response_model=list[WorkflowOverview])
    def list_workflows() -> list[WorkflowOverview]:
        """Every catalogued workflow with how many runs are in each state (all, and open)."""
        with services.store.read() as tx:
            everything = tx.states.counts_by_workflow_state()
            still_open = tx.states.counts_by_workflow_state(open_only=True)

        def of(counts: dict[tuple[str, WorkflowState], int], name: str) -> dict[WorkflowState, int]:
            return {state: n for (workflow, state), n in sorted(counts.items()) if workflow == name}

        return [
            WorkflowOverview(
                workflow=spec.name,
                producer=spec.producer,
                description=spec.description,
                runs_by_state=of(everything, spec.name),
                open_runs_by_state=of(still_open, spec.name),
            )
            for spec in services.catalogue.workflows
        ]

    @api.get("/workflows/{name}/history", response_model=WorkflowHistory, responses=NOT_FOUND)
    def workflow_history(
        name: Annotated[str, Path(min_length=1, max_length=128, pattern=WORKFLOW_NAME)],
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        before_run: Annotated[int | None, Query(ge=1, le=MAX_RUN)] = None,
    ) -> WorkflowHistory:
        """Run after run (newest first): state, since when, when proven, and latencies."""
        with services.store.read() as tx:
            records = tx.states.workflow_history(name, limit + 1, before_run)
            page = keyset_page(records, limit, lambda record: record.run)
            stops = {}
            if page.items:
                first, last = page.items[-1].run, page.items[0].run
                runs = tx.states.list_summaries(run_min=first, run_max=last, limit=None)
                stops = {summary.run: summary.stop for summary in runs}
        if not page.items and services.catalogue.by_name(name) is None:
            raise HTTPException(404, f"unknown workflow {name!r}")
        return WorkflowHistory(
            workflow=name,
            items=[
                WorkflowRun(
                    run=record.run,
                    state=record.state,
                    state_since=record.state_since,
                    proven_at=record.proven_at,
                    run_stop=stops.get(record.run),
                    harvest_hours=hours_after(stops.get(record.run), first_harvest(record)),
                    upload_hours=hours_after(stops.get(record.run), record.proven_at),
                )
                for record in page.items
            ],
            next_before_run=page.next_before,
        )

    return api
