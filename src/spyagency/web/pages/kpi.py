"""The KPI page: run stop to PromptReco release (quantiles and a histogram), early releases
against the timer, and missed runs per month.

Route: ``GET /kpi`` (``days`` back, default about two years).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from spyagency.web.pages.banner import read_banner
from spyagency.web.pages.kit import PageKit
from spyagency.web.pages.kpi_model import BIN_HOURS, read_kpi
from spyagency.web.pages.viewer import Viewer

DEFAULT_DAYS = 730


def add_routes(api: APIRouter, kit: PageKit) -> None:
    services = kit.services

    @api.get("/kpi", response_class=HTMLResponse, include_in_schema=False)
    def kpi(
        request: Request, days: Annotated[int, Query(ge=1, le=3650)] = DEFAULT_DAYS
    ) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return viewer
        now = services.clock.now()
        with services.store.read() as tx:
            banner = read_banner(tx, services, now)
            figures = read_kpi(tx, services.policy, since=now - timedelta(days=days))
        return kit.page(
            request,
            "kpi.html",
            viewer,
            banner,
            kpi=figures,
            days=days,
            bin_hours=BIN_HOURS,
            reco_delay_hours=services.policy.reco_delay / timedelta(hours=1),
        )
