"""The workflow page: one calibration's record across runs, with its latency after run stop
and its own DQM figures plotted, so a slow drift is visible before it costs a run.

Route: ``GET /workflows/{name}`` (``limit`` runs, newest first).

Its read model: the store reads the workflow's history and, batched over the runs shown, the
runs' stop times, the first harvest file of its main input tag and its DQM figures
(``WorkflowFigureRepository``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from spyagency.domain.catalogue import WorkflowSpec
from spyagency.domain.states import WorkflowState
from spyagency.store.run_records import WorkflowRecord
from spyagency.store.uow import Transaction
from spyagency.store.workflow_figures import DqmFigures
from spyagency.web.pages.presentation import hours_after
from spyagency.web.pages.rendering import PageKit, Viewer, read_banner

DEFAULT_LIMIT = 200

# The read model.


@dataclass(frozen=True)
class WorkflowRun:
    record: WorkflowRecord
    stop: datetime | None
    harvested_at: datetime | None
    dqm: DqmFigures | None

    @property
    def run(self) -> int:
        return self.record.run

    @property
    def state(self) -> WorkflowState:
        return self.record.state

    @property
    def harvest_hours(self) -> float | None:
        return hours_after(self.harvested_at, self.stop)

    @property
    def proof_hours(self) -> float | None:
        return hours_after(self.record.proven_at, self.stop)


def read_workflow(tx: Transaction, spec: WorkflowSpec, limit: int) -> list[WorkflowRun]:
    records = tx.states.workflow_history(spec.name, limit=limit)
    runs = [record.run for record in records]
    figures = tx.workflow_figures
    stops = figures.stops(runs)
    harvested = figures.first_harvests(runs, spec.primary_input_tag)
    dqm = figures.dqm_figures(runs, spec.name)
    return [
        WorkflowRun(record, stops.get(record.run), harvested.get(record.run), dqm.get(record.run))
        for record in records
    ]


def plot_series(rows: list[WorkflowRun]) -> dict[str, list[Any]]:
    """Columns for uPlot, oldest run first (its x axis must ascend)."""
    ordered = sorted(rows, key=lambda row: row.run)

    def flag(value: bool | None) -> int | None:
        return None if value is None else int(value)

    return {
        "runs": [row.run for row in ordered],
        "harvest_hours": [row.harvest_hours for row in ordered],
        "proof_hours": [row.proof_hours for row in ordered],
        "failed_tests": [row.dqm.failed_tests if row.dqm else None for row in ordered],
        "vetoed": [flag(row.dqm.vetoed) if row.dqm else None for row in ordered],
        "db_updated": [flag(row.dqm.db_updated) if row.dqm else None for row in ordered],
    }


# The route.


def add_routes(api: APIRouter, kit: PageKit) -> None:
    services = kit.services

    @api.get("/workflows/{name}", response_class=HTMLResponse, include_in_schema=False)
    def workflow(
        request: Request,
        name: str,
        limit: Annotated[int, Query(ge=1, le=2000)] = DEFAULT_LIMIT,
    ) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return viewer
        now = services.clock.now()
        spec = services.catalogue.by_name(name)
        with services.store.read() as tx:
            banner = read_banner(tx, services, now)
            rows = read_workflow(tx, spec, limit) if spec is not None else []
        if spec is None:
            return kit.page(
                request, "not_found.html", viewer, banner, status=404, what=f"workflow {name}"
            )
        return kit.page(
            request,
            "workflow.html",
            viewer,
            banner,
            spec=spec,
            rows=rows,
            series=plot_series(rows),
            policy=services.policy,
        )
