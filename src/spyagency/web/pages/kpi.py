"""The KPI page: run stop to PromptReco release (quantiles, a histogram, the delay per week
against the timer), early releases, stop-to-proof latency per workflow, how the forecasts fared
(ADR 11), missed runs per month.
The plots are drawn from the API; the tables under them print the same answers.

Route: ``GET /kpi`` (``days`` back, default about two years).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from spyagency.web import plot_answers
from spyagency.web.api.forecasts import forecast_score
from spyagency.web.pages.banner import read_banner
from spyagency.web.pages.kit import PageKit
from spyagency.web.pages.kpi_model import read_kpi
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
        since = now - timedelta(days=days)
        policy = services.policy
        with services.store.read() as tx:
            banner = read_banner(tx, services, now)
            figures = read_kpi(tx, policy, since=since)
            histogram = plot_answers.release_histogram(tx, policy, since)
            weekly = plot_answers.weekly_releases(tx, policy, since)
            latency = plot_answers.proof_latency(tx, since)
            scored = tx.forecasts.scored(stopped_since=since)
        return kit.page(
            request,
            "kpi.html",
            viewer,
            banner,
            kpi=figures,
            days=days,
            histogram=histogram,
            weekly=weekly,
            latency=latency,
            forecast_score=forecast_score(scored, now, None, None),
            reco_delay_hours=policy.reco_delay / timedelta(hours=1),
        )
