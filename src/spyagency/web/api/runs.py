"""Runs: the verdict list, one run's verdict with its proof, what was seen and what changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from spyagency.domain.facts import fact_to_dict
from spyagency.domain.states import Verdict
from spyagency.store.run_records import RunSummary
from spyagency.web import plot_answers
from spyagency.web.api import conversions, forecasts
from spyagency.web.api.caching import combined_etag, not_modified
from spyagency.web.authorization import Action
from spyagency.web.encoded import JSON, EncodedBody, accepts_gzip
from spyagency.web.paging import keyset_page
from spyagency.web.params import MAX_RUN, RunNumber
from spyagency.web.render_cache import RenderCache, StoreGlance
from spyagency.web.schemas.base import Problem
from spyagency.web.schemas.runs import Event, RunDetail, RunPage, RunStateBars, TimelineEntry
from spyagency.web.security import require
from spyagency.web.services import WebServices

# Bounds keep every value inside a BIGINT on both backends: an out-of-range number must be a
# 422, never a database overflow.
RAW_LIMIT = 4000
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "no such run"}}


@dataclass(frozen=True)
class CachedPage:
    """One page of the run list as bytes, with its ETag."""

    body: EncodedBody
    etag: str

    def answer(self, request: Request) -> Response:
        """200 with the body (gzip when accepted), or 304 when the client has this page.

        The gzip form is another representation of the same page, so its ETag is the weak
        form of the plain one's (as common servers do): ``If-None-Match`` compares weakly, so
        either validates, and no cache mistakes one encoding's bytes for the other's."""
        encoding = request.headers.get("accept-encoding", "")
        etag = f"W/{self.etag}" if accepts_gzip(encoding) else self.etag
        if not_modified(request, self.etag) is not None:
            return Response(status_code=304, headers={"ETag": etag, "Vary": "Accept-Encoding"})
        return self.body.response(encoding, {"ETag": etag})


def encode_page(query: str, records: list[RunSummary], limit: int) -> CachedPage:
    """``records``: up to ``limit + 1`` summaries (see ``paging``)."""
    page = keyset_page(records, limit, lambda record: record.run)
    body = RunPage(
        items=[conversions.run_summary(record) for record in page.items],
        next_before_run=page.next_before,
    )
    tags = [query, str(page.next_before)] + [record.etag for record in page.items]
    return CachedPage(EncodedBody.of(body.model_dump_json().encode(), JSON), combined_etag(tags))


def router(services: WebServices) -> APIRouter:
    api = APIRouter(tags=["runs"], dependencies=[Depends(require(Action.READ))])
    cache: RenderCache[CachedPage] = RenderCache(capacity=64)
    glance = StoreGlance(services.store, services.changes)

    @api.get("/runs", response_model=RunPage)
    async def list_runs(
        request: Request,
        verdict: Verdict | None = None,
        run_min: Annotated[int | None, Query(ge=0, le=MAX_RUN)] = None,
        run_max: Annotated[int | None, Query(ge=0, le=MAX_RUN)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        before_run: Annotated[
            int | None, Query(ge=1, le=MAX_RUN, description="keyset cursor: next_before_run")
        ] = None,
    ) -> Response:
        """Runs newest first; page on with ``before_run``."""
        query_key = (verdict, run_min, run_max, limit, before_run)

        def build() -> CachedPage:
            with services.store.read() as tx:
                records = tx.states.list_summaries(verdict, run_min, run_max, limit + 1, before_run)
            return encode_page(str(query_key), records, limit)

        # Many screens and tools poll the same page: serve it from memory, already serialised
        # and compressed, until the store moves (see render_cache), as the dashboard does. A
        # hit is answered on the event loop; only the store is read in a thread.
        fingerprint = glance.recent()
        if fingerprint is None:
            fingerprint = await run_in_threadpool(glance.fingerprint)
        key = (fingerprint, query_key)
        page = cache.peek(key)
        if page is None:
            page = await run_in_threadpool(cache.get_or_build, key, build)
        return page.answer(request)

    @api.get("/runs/{run}", response_model=RunDetail, responses=NOT_FOUND)
    def get_run(run: RunNumber, request: Request, response: Response) -> RunDetail | Response:
        """The verdict, its reasons, every workflow's state with evidence, and overrides."""
        now = services.clock.now()
        with services.store.read() as tx:
            record = tx.states.get_run(run)
            overrides = tx.overrides.for_run(run) if record is not None else []
            forecast = forecasts.run_forecast(tx, record, now) if record is not None else None
        if record is None or forecast is None:
            raise HTTPException(404, f"run {run} is not known to the agency")
        # Overrides can expire without a new version; include their state in the tag. The
        # forecast moves with the clock (hours from now): its own text is in the tag too.
        active = ",".join(str(item.override.id) for item in overrides if item.override.active(now))
        etag = combined_etag([record.etag, active, str(len(overrides)), forecast.model_dump_json()])
        cached = not_modified(request, etag)
        if cached is not None:
            return cached
        response.headers["ETag"] = etag
        detail = conversions.run_detail(record, overrides, now)
        return detail.model_copy(update={"forecast": forecast})

    @api.get("/runs/{run}/timeline", response_model=list[TimelineEntry], responses=NOT_FOUND)
    def run_timeline(run: RunNumber) -> list[TimelineEntry]:
        """Every observation of the run in the order it was seen, raw evidence shortened."""
        with services.store.read() as tx:
            known = tx.states.get_run(run) is not None
            observations = tx.observations.timeline(run)
        if not known and not observations:
            raise HTTPException(404, f"run {run} is not known to the agency")
        return [
            TimelineEntry(
                id=item.id or 0,
                source=item.source,
                kind=item.fact.kind,
                observed_at=item.observed_at,
                fact_time=item.fact_time,
                fact=fact_to_dict(item.fact),
                raw=item.raw[:RAW_LIMIT],
                raw_truncated=len(item.raw) > RAW_LIMIT,
            )
            for item in observations
        ]

    @api.get("/runs/{run}/state-bars", response_model=RunStateBars, responses=NOT_FOUND)
    def run_state_bars(run: RunNumber) -> RunStateBars:
        """Each workflow's states as bars over time, with the run's deadlines."""
        with services.store.read() as tx:
            bars = plot_answers.run_state_bars(tx, services.policy, run, services.clock.now())
        if bars is None:
            raise HTTPException(404, f"run {run} is not known to the agency")
        return bars

    @api.get("/runs/{run}/events", response_model=list[Event], responses=NOT_FOUND)
    def run_events(run: RunNumber) -> list[Event]:
        """The run's history of changes (verdicts, workflow states, overrides, signals)."""
        with services.store.read() as tx:
            known = tx.states.get_run(run) is not None
            events = tx.events.for_run(run)
        if not known and not events:
            raise HTTPException(404, f"run {run} is not known to the agency")
        return [conversions.event(item) for item in events]

    return api
