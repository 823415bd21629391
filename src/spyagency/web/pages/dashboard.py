"""The dashboard: recent runs by workflows, verdicts, the FCSR line and lock-in countdowns.

Routes: ``GET /`` (filters ``verdict``, ``run_class``, ``era``, ``limit``; ``wall=1`` for the
control-room screen), ``GET /fragments/runs/{run}/row`` (one row, swapped in live by app.js),
``GET /fragments/summary`` (the verdict counts and the FCSR, refreshed with the rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from spyagency.domain.queue import queue_of
from spyagency.domain.states import Verdict
from spyagency.store.run_lists import RunListFingerprint
from spyagency.store.uow import Transaction
from spyagency.web.api.forecasts import open_run_forecasts
from spyagency.web.encoded import HTML, EncodedBody
from spyagency.web.pages.banner import Banner, read_banner
from spyagency.web.pages.columns import Columns, visible_columns
from spyagency.web.pages.dashboard_model import (
    DashboardData,
    DashboardFilters,
    DashboardRun,
    read_dashboard,
    read_dashboard_run,
)
from spyagency.web.pages.kit import NO_STORE, PageKit
from spyagency.web.pages.notices import Notice, clear_notice, pending_notice
from spyagency.web.pages.viewer import Viewer
from spyagency.web.params import RunNumber
from spyagency.web.render_cache import GLANCE_SECONDS, RenderCache
from spyagency.web.schemas import RunForecast

DEFAULT_LIMIT = 100
WALL_LIMIT = 30
MAX_LIMIT = 500
# Filter choices come from the labels of this many recent runs.
OPTION_WINDOW = 500


@dataclass(frozen=True)
class Glance:
    fingerprint: RunListFingerprint
    # Forecasts move without a run's state changing: the rows that show them are keyed on it.
    forecast_mark: tuple[int, datetime | None]
    banner: Banner
    now: datetime


@dataclass(frozen=True)
class DashboardTable:
    data: DashboardData
    columns: Columns
    rows: Markup
    classes: tuple[str, ...]
    eras: tuple[str, ...]


def parse_filters(
    verdict: str | None, run_class: str | None, era: str | None, limit: int | None, wall: bool
) -> DashboardFilters:
    """Unknown verdict words and empty fields mean "no filter": a bookmarked URL from an older
    version must still open."""
    chosen = Verdict(verdict) if verdict in {v.value for v in Verdict} else None
    default = WALL_LIMIT if wall else DEFAULT_LIMIT
    return DashboardFilters(
        verdict=chosen,
        run_class=(run_class or "").strip() or None,
        era=(era or "").strip() or None,
        limit=max(1, min(limit or default, MAX_LIMIT)),
    )


def add_routes(api: APIRouter, kit: PageKit) -> None:
    services = kit.services
    glances: RenderCache[Glance] = RenderCache(capacity=1, ttl_seconds=GLANCE_SECONDS)
    tables: RenderCache[DashboardTable] = RenderCache()
    # Whole pages too: the shell around a cached table depends only on the banner, the viewer
    # and the second it was rendered in (the countdowns' reference time).
    pages: RenderCache[EncodedBody] = RenderCache(capacity=64)

    def forecasts_of(tx: Transaction, runs: list[DashboardRun]) -> dict[int, RunForecast]:
        lock_ins = {item.run: item.summary.lock_in_at for item in runs if item.open}
        return open_run_forecasts(tx, lock_ins, services.clock.now())

    def build_table(tx: Transaction, filters: DashboardFilters, wall: bool) -> DashboardTable:
        data = read_dashboard(tx, filters)
        columns = visible_columns(services.catalogue.names(), data.runs, wall)
        # The environment autoescapes: its output is HTML-safe by construction.
        rows = Markup(  # noqa: S704
            kit.render_text(
                "_run_rows.html",
                runs=data.runs,
                columns=columns,
                fcsr=data.fcsr,
                wall=wall,
                queue=data.queue,
                forecasts=forecasts_of(tx, data.runs),
            )
        )
        classes, eras = _filter_options(tx)
        return DashboardTable(data, columns, rows, classes, eras)

    def look() -> Glance:
        now = services.clock.now().replace(microsecond=0)
        with services.store.read() as tx:
            return Glance(
                tx.run_lists.fingerprint(),
                tx.forecasts.latest_mark(),
                read_banner(tx, services, now),
                now,
            )

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(
        request: Request,
        verdict: str | None = None,
        run_class: str | None = None,
        era: str | None = None,
        limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT)] = None,
        wall: bool = False,
    ) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return viewer
        filters = parse_filters(verdict, run_class, era, limit, wall)
        # One look at the store (its fingerprint and the banner) serves every request for a
        # moment, or until a change is announced (GLANCE_SECONDS in render_cache).
        glance = glances.get_or_build(services.changes.generation, look)
        now, banner = glance.now, glance.banner
        key = (glance.fingerprint, glance.forecast_mark, filters.key(), wall)

        def build() -> DashboardTable:
            with services.store.read() as tx:
                return build_table(tx, filters, wall)

        table = tables.get_or_build(key, build)

        def render(notice: Notice | None = None) -> EncodedBody:
            page = kit.render_page(
                request,
                "dashboard.html",
                viewer,
                banner,
                now=now,
                table=table,
                filters=filters,
                wall=wall,
                notice=notice,
            )
            return EncodedBody.of(page.encode("utf-8"), HTML)

        accept_encoding = request.headers.get("accept-encoding", "")
        notice = pending_notice(request)
        if notice is not None:
            # Shown once to this browser: never from, nor into, the shared page cache.
            answer = render(notice).response(accept_encoding, NO_STORE)
            clear_notice(answer)
            return answer
        # repr: the banner holds a control value of any JSON type, not necessarily hashable.
        encoded = pages.get_or_build((key, repr(banner), viewer, now), render)
        return encoded.response(accept_encoding, NO_STORE)

    @api.get("/fragments/runs/{run}/row", response_class=HTMLResponse, include_in_schema=False)
    def run_row(
        request: Request, run: RunNumber, columns: str = "", wall: bool = False
    ) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return Response(status_code=401)
        with services.store.read() as tx:
            found = read_dashboard_run(tx, run)
            fcsr = tx.run_lists.first_condition_safe_run()
            queue = queue_of(tx.states.queued_runs())
            forecasts = forecasts_of(tx, [found]) if found is not None else {}
        if found is None:
            return Response(status_code=404)
        names = tuple(name for name in columns.split(",") if name) or tuple(
            visible_columns(services.catalogue.names(), [found], wall).names
        )
        body = kit.render_text(
            "_run_row.html",
            run=found,
            columns=Columns(names),
            fcsr=fcsr,
            wall=wall,
            queue=queue,
            forecasts=forecasts,
        )
        headers = {"Cache-Control": "no-store", "X-FCSR": str(fcsr or "")}
        return HTMLResponse(body, headers=headers)

    @api.get("/fragments/summary", response_class=HTMLResponse, include_in_schema=False)
    def summary(request: Request) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return Response(status_code=401)
        with services.store.read() as tx:
            counts = tx.states.counts_by_verdict()
            fcsr = tx.run_lists.first_condition_safe_run()
            queue = queue_of(tx.states.queued_runs())
        body = kit.render_text(
            "_summary.html",
            counts=counts,
            fcsr=fcsr,
            queue=queue,
            filters=None,
        )
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})


def _filter_options(tx: Transaction) -> tuple[tuple[str, ...], tuple[str, ...]]:
    labels = tx.labels.of_newest_runs(OPTION_WINDOW)
    classes = sorted({label.run_class for label in labels if label.run_class})
    eras = sorted({label.era for label in labels if label.era}, reverse=True)
    return tuple(classes), tuple(eras)
