"""The dashboard: recent runs by workflows, verdicts, the FCSR line and lock-in countdowns.

Routes: ``GET /`` (filters ``verdict``, ``run_class``, ``era``, ``limit``; ``wall=1`` for the
control-room screen), ``GET /fragments/runs/{run}/row`` (one row, swapped in live by app.js),
``GET /fragments/summary`` (the verdict counts and the FCSR, refreshed with the rows).

Its read model takes the newest runs with the state of every workflow in a fixed number of
queries whatever the number of runs (no query per row or cell): rows are the store's run
summaries (``list_summaries``, the query behind the API's run list) plus the workflow summaries
a cell shows (``RunListRepository``) and the run's labels.

Columns: a workflow column that no shown run expects is noise; on the wall screen, where space
is scarcest, a column in which every shown run is already proven (or not expected) is hidden
too, so what needs attention stays readable from across the room.

Row cells are built in Python rather than in the template. A 200-run dashboard has about 4,000
cells; through Jinja each costs several calls (rendering took ~90 ms), as one formatted string
each they cost a few microseconds. Cells are kept small (the column header names the workflow;
"since" only where time in a state matters), as bytes are what a page of 4,000 cells costs to
send and to parse. Every piece of text that is not a constant passes through ``escape``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from spyagency.domain.queue import Queue, queue_of
from spyagency.domain.states import FAILURE_STATES, IN_PROGRESS_STATES, Verdict, WorkflowState
from spyagency.store.run_labels import RunLabels
from spyagency.store.run_lists import RunListFingerprint, WorkflowSummary
from spyagency.store.run_records import RunSummary
from spyagency.store.uow import Transaction
from spyagency.web.api.forecasts import open_run_forecasts
from spyagency.web.encoded import HTML, EncodedBody
from spyagency.web.pages.presentation import state_look, when
from spyagency.web.pages.rendering import (
    NO_STORE,
    Banner,
    Notice,
    PageKit,
    Viewer,
    clear_notice,
    pending_notice,
    read_banner,
)
from spyagency.web.params import RunNumber
from spyagency.web.render_cache import GLANCE_SECONDS, RenderCache
from spyagency.web.schemas.forecasts import RunForecast

# The read model.

# A cell of the run table shows one workflow's summary.
Cell = WorkflowSummary
# How many runs carrying a class/era label to look at when filtering on one.
LABEL_SCAN_FACTOR = 4


@dataclass(frozen=True)
class DashboardFilters:
    verdict: Verdict | None = None
    run_class: str | None = None
    era: str | None = None
    limit: int = 100

    def key(self) -> tuple[str, str, str, int]:
        verdict = self.verdict.value if self.verdict else ""
        return (verdict, self.run_class or "", self.era or "", self.limit)


@dataclass(frozen=True)
class DashboardRun:
    """One row: the run's verdict line (the store's summary, as the API lists it), the state
    of each of its workflows, and its labels."""

    summary: RunSummary
    cells: dict[str, Cell] = field(default_factory=dict)
    labels: RunLabels = field(default_factory=RunLabels)

    @property
    def run(self) -> int:
        return self.summary.run

    @property
    def open(self) -> bool:
        """The Tier-0 has not locked it yet: its calibrations can still make it."""
        return self.summary.locked_at is None and not self.summary.verdict.is_final


@dataclass(frozen=True)
class DashboardData:
    runs: list[DashboardRun]
    counts: dict[Verdict, int]
    fcsr: int | None
    queue: Queue = field(default_factory=lambda: Queue(None))


def read_dashboard(tx: Transaction, filters: DashboardFilters) -> DashboardData:
    among = None
    if filters.run_class or filters.era:
        scan = filters.limit * LABEL_SCAN_FACTOR
        among = tx.labels.runs_labelled(filters.run_class, filters.era, scan)
    summaries = tx.states.list_summaries(filters.verdict, limit=filters.limit, among=among)
    runs = _assemble(tx, summaries)
    if filters.run_class or filters.era:
        runs = [r for r in runs if _matches(r.labels, filters)]
    queue = queue_of(tx.states.queued_runs())
    fcsr = tx.run_lists.first_condition_safe_run()
    return DashboardData(runs, tx.states.counts_by_verdict(), fcsr, queue)


def read_dashboard_run(tx: Transaction, run: int) -> DashboardRun | None:
    found = _assemble(tx, tx.states.list_summaries(run_min=run, run_max=run, limit=1))
    return found[0] if found else None


def _assemble(tx: Transaction, summaries: list[RunSummary]) -> list[DashboardRun]:
    numbers = [summary.run for summary in summaries]
    cells = tx.run_lists.workflow_summaries(numbers)
    labels = tx.labels.of_runs(numbers)
    return [
        DashboardRun(summary, cells.get(summary.run, {}), labels.get(summary.run, RunLabels()))
        for summary in summaries
    ]


def _matches(labels: RunLabels, filters: DashboardFilters) -> bool:
    if filters.run_class and labels.run_class != filters.run_class:
        return False
    return not (filters.era and labels.era != filters.era)


# Which workflow columns to show.

QUIET_STATES = frozenset(
    {WorkflowState.NOT_EXPECTED, WorkflowState.IN_DB, WorkflowState.NO_PAYLOAD}
)


@dataclass(frozen=True)
class Columns:
    names: tuple[str, ...]
    # Shown only on the wall screen: how many expected but settled columns were left out.
    quiet_hidden: int = 0


def visible_columns(
    catalogue: Sequence[str], runs: Sequence[DashboardRun], wall: bool = False
) -> Columns:
    """Catalogue order first, then workflows a run reported that the catalogue lacks."""
    extra = sorted({name for run in runs for name in run.cells} - set(catalogue))
    expected = [name for name in (*catalogue, *extra) if any(_expected(run, name) for run in runs)]
    if not wall:
        return Columns(tuple(expected))
    loud = [name for name in expected if any(_needs_eyes(run, name) for run in runs)]
    return Columns(tuple(loud), len(expected) - len(loud))


def _expected(run: DashboardRun, name: str) -> bool:
    cell = run.cells.get(name)
    return cell is not None and cell.state is not WorkflowState.NOT_EXPECTED


def _needs_eyes(run: DashboardRun, name: str) -> bool:
    cell = run.cells.get(name)
    return cell is not None and cell.state not in QUIET_STATES and run.open


# The workflow cells of one row.

ABSENT = '<td class="st-absent"></td>'
# States in which how long it has lasted is the point (stuck, or waiting on an expert).
TIMED_STATES = IN_PROGRESS_STATES | FAILURE_STATES | {WorkflowState.UNKNOWN}


def cells_html(run: DashboardRun, columns: Sequence[str]) -> Markup:
    parts = [_cell(run.cells.get(name)) for name in columns]
    # Safe by construction: constants, and dynamic text only through escape() in _cell.
    return Markup("".join(parts))  # noqa: S704


def _cell(cell: Cell | None) -> str:
    if cell is None:
        return ABSENT
    look = state_look(cell.state)
    classes = look.css
    # The public word, not the phrase: 4,000 cells, and the legend explains the words.
    title = cell.state.value
    if cell.state in TIMED_STATES:
        title += f" since {when(cell.since)}"
    if cell.optional:
        classes += " optional"
        title += " (optional)"
    if cell.ignored_by:
        classes += " ignored"
        title += f" (ignored: {cell.ignored_by})"
    return f'<td class="{classes}" title="{escape(title)}">{escape(look.short)}</td>'


# The routes.

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
