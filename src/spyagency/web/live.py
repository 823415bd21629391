"""Live updates: the store's event table as server-sent events.

A client resumes where it left off: the browser's ``EventSource`` sends ``Last-Event-ID`` on
reconnection (tools may pass ``?after=``). Without either the stream starts with the next new
event. The loop reads what is new, then sleeps until the engine signals a change on the
``ChangeFeed``, or at most ``POLL_SECONDS``: the fallback covers writers in other processes that
cannot reach this one's feed. FastAPI sends keep-alive comments while nothing happens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from spyagency.store.events import Event
from spyagency.web.api import PREFIX, conversions
from spyagency.web.authorization import Action
from spyagency.web.params import MAX_ID
from spyagency.web.security import require
from spyagency.web.services import WebServices

POLL_SECONDS = 2.0
BATCH = 500
RETRY_MILLISECONDS = 3000


def router(services: WebServices, poll_seconds: float = POLL_SECONDS) -> APIRouter:
    api = APIRouter(prefix=PREFIX, tags=["live"])

    def read_since(event_id: int) -> list[Event]:
        with services.store.read() as tx:
            return tx.events.since(event_id, BATCH)

    def latest() -> int:
        with services.store.read() as tx:
            return tx.events.latest_id()

    @api.get(
        "/events/stream",
        response_class=EventSourceResponse,
        dependencies=[Depends(require(Action.READ))],
    )
    async def stream(
        request: Request,
        after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
        last_event_id: Annotated[int | None, Header(ge=0, le=MAX_ID)] = None,
    ) -> AsyncIterator[ServerSentEvent]:
        """Each event's ``id`` is its event id and ``data`` the JSON of ``Event``."""
        if last_event_id is not None:
            position = last_event_id
        elif after is not None:
            position = after
        else:
            position = await run_in_threadpool(latest)
        yield ServerSentEvent(comment="spyagency live events", retry=RETRY_MILLISECONDS)
        while not await request.is_disconnected():
            events = await run_in_threadpool(read_since, position)
            for item in events:
                position = item.id
                yield ServerSentEvent(
                    id=str(item.id), event=item.kind, data=conversions.event(item)
                )
            if len(events) < BATCH:
                await services.changes.wait(poll_seconds)

    return api
