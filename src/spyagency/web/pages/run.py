"""The run page: verdict with reasons, proof and the forecast of when it will be ready,
deadlines, every workflow with its evidence, the merged timeline, overrides (with forms for
those allowed) and the run's alerts.

Routes: ``GET /runs/{run}`` and ``GET /fragments/runs/{run}/detail`` (the same content without
the page around it, re-fetched by app.js when the run changes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from spyagency.domain.evidence import Evidence
from spyagency.domain.overrides import OverrideKind
from spyagency.domain.queue import queue_of
from spyagency.domain.states import WorkflowState
from spyagency.web import plot_answers, schemas
from spyagency.web.api.forecasts import run_forecast
from spyagency.web.authorization import give_override, revoke_override
from spyagency.web.pages.banner import read_banner
from spyagency.web.pages.kit import PageKit
from spyagency.web.pages.links import EvidenceContext, evidence_link
from spyagency.web.pages.run_model import RunPage, deadlines, read_run_page
from spyagency.web.pages.viewer import Viewer
from spyagency.web.params import RunNumber

NOT_EXPECTED = WorkflowState.NOT_EXPECTED
EvidenceLinker = Callable[[Evidence, str], str | None]


def add_routes(api: APIRouter, kit: PageKit) -> None:
    services = kit.services

    def detail_context(
        page: RunPage,
        bars: schemas.RunStateBars | None,
        held_by: int | None,
        forecast: schemas.RunForecast,
        viewer: Viewer,
    ) -> dict[str, Any]:
        now = services.clock.now()
        return {
            "page": page,
            "forecast": forecast,
            "state_bars": bars,
            "held_by": held_by,
            "record": page.record,
            "assessment": page.record.assessment,
            "deadlines": deadlines(page.record, services.policy),
            "active_overrides": page.active_overrides(now),
            "past_overrides": page.past_overrides(now),
            "link": _linker(kit, page),
            "override_kinds": [k for k in OverrideKind if viewer.can(give_override(k))],
            "may_revoke": lambda kind: viewer.can(revoke_override(kind)),
            "workflow_names": [w.workflow for w in page.record.workflows if w.counted],
            "expected": [w for w in page.record.workflows if w.state is not NOT_EXPECTED],
            "not_expected": [w for w in page.record.workflows if w.state is NOT_EXPECTED],
        }

    @api.get("/runs/{run}", response_class=HTMLResponse, include_in_schema=False)
    def run_page(request: Request, run: RunNumber) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return viewer
        now = services.clock.now()
        with services.store.read() as tx:
            banner = read_banner(tx, services, now)
            page = read_run_page(tx, run)
            bars = plot_answers.run_state_bars(tx, services.policy, run, now)
            held_by = queue_of(tx.states.queued_runs()).held_by(run)
            forecast = run_forecast(tx, page.record, now) if page is not None else None
        if page is None or forecast is None:
            return kit.page(
                request, "not_found.html", viewer, banner, status=404, what=f"run {run}"
            )
        context = detail_context(page, bars, held_by, forecast, viewer)
        return kit.page(request, "run.html", viewer, banner, **context)

    @api.get("/fragments/runs/{run}/detail", response_class=HTMLResponse, include_in_schema=False)
    def run_detail(request: Request, run: RunNumber) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return Response(status_code=401)
        now = services.clock.now()
        with services.store.read() as tx:
            page = read_run_page(tx, run)
            bars = plot_answers.run_state_bars(tx, services.policy, run, now)
            held_by = queue_of(tx.states.queued_runs()).held_by(run)
            forecast = run_forecast(tx, page.record, now) if page is not None else None
        if page is None or forecast is None:
            return Response(status_code=404)
        context = detail_context(page, bars, held_by, forecast, viewer)
        body = kit.render_text(
            "_run_detail.html", viewer=viewer, now=services.clock.now(), **context
        )
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})


def _linker(kit: PageKit, page: RunPage) -> EvidenceLinker:
    catalogue = kit.services.catalogue

    def link(evidence: Evidence, workflow: str) -> str | None:
        context = EvidenceContext(page.record.run, catalogue.by_name(workflow), page.labels.era)
        return evidence_link(evidence, context, kit.sites)

    return link
