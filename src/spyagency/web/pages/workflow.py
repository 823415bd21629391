"""The workflow page: one calibration's record across runs, with its latency after run stop
and its own DQM figures plotted, so a slow drift is visible before it costs a run.

Route: ``GET /workflows/{name}`` (``limit`` runs, newest first).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from spyagency.web.pages.banner import read_banner
from spyagency.web.pages.kit import PageKit
from spyagency.web.pages.viewer import Viewer
from spyagency.web.pages.workflow_model import plot_series, read_workflow

DEFAULT_LIMIT = 200


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
