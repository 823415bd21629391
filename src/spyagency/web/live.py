"""Live updates: the store's event table as server-sent events.

A client resumes where it left off: the browser's ``EventSource`` sends ``Last-Event-ID`` on
reconnection (tools may pass ``?after=``). Without either the stream starts with the next new
event. The loop reads what is new, then sleeps until the engine signals a change on the
``ChangeFeed``, or at most ``POLL_SECONDS``: the fallback covers writers in other processes that
cannot reach this one's feed. A comment goes out after ``KEEPALIVE_SECONDS`` without an event,
so proxies do not close a quiet stream.

The frames are written here, on a plain streaming response, rather than by FastAPI's own
server-sent-event support: its keep-alive task raises when a client disconnects at the wrong
moment, and every such ordinary tab close was logged as "Exception in ASGI application".
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from spyagency.store.events import Event
from spyagency.web.api import PREFIX, conversions
from spyagency.web.authorization import Action
from spyagency.web.params import MAX_ID
from spyagency.web.security import require
from spyagency.web.services import WebServices

POLL_SECONDS = 2.0
BATCH = 500
# Events kept in memory for the live streams (a few minutes of a busy engine's changes).
TAIL_CAPACITY = 2000
RETRY_MILLISECONDS = 3000
KEEPALIVE_SECONDS = 15.0
LINE_BREAK = re.compile(r"\r\n|\r|\n")
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_frame(
    *,
    data: str | None = None,
    event: str | None = None,
    event_id: int | None = None,
    comment: str | None = None,
    retry_ms: int | None = None,
) -> bytes:
    """One server-sent event in its wire format: ``field: value`` lines and a blank line.

    Data with line breaks becomes several ``data:`` lines (the browser joins them back with
    line feeds). Only CR, LF and CRLF break a line in this format: ``str.splitlines`` would
    also split at U+2028 and friends, which JSON keeps raw inside strings, and the page would
    receive broken JSON. Comments and names cannot hold line breaks (a new field would start).
    """
    lines = []
    if comment is not None:
        lines.append(": " + comment.replace("\r", " ").replace("\n", " "))
    if event is not None:
        lines.append("event: " + event.replace("\r", " ").replace("\n", " "))
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if retry_ms is not None:
        lines.append(f"retry: {retry_ms}")
    if data is not None:
        lines.extend("data: " + line for line in LINE_BREAK.split(data))
    return ("\n".join(lines) + "\n\n").encode()


class EventTail:
    """The newest events, read once for every live stream of the process.

    Each stream used to read the store itself after every change and every fallback poll, so
    a change cost one read per open page, and hundreds of pages opening and closing queued
    that many reads in the thread pool ahead of the operators' actions. Here one read per
    change (or per fallback interval) refreshes a bounded in-memory tail that every stream
    serves from; only a stream resuming from further back than the tail reads the store.
    The lock guards only the refresh and is safe to cancel (a closed page waits on nothing).
    """

    def __init__(
        self,
        read_since: Callable[[int], list[Event]],
        latest: Callable[[], int],
        max_age: float,
        capacity: int = TAIL_CAPACITY,
    ) -> None:
        self._read_since = read_since
        self._latest = latest
        self._max_age = max_age
        self._events: deque[Event] = deque(maxlen=capacity)
        self._start = -1  # every event after this id up to ``_end`` is in ``_events``
        self._end = -1
        self._generation = -1
        self._refreshed_at = -math.inf
        self._lock = asyncio.Lock()

    async def latest(self, generation: int) -> int:
        await self._ensure_fresh(generation)
        return self._end

    async def since(self, position: int, generation: int) -> list[Event]:
        """Events after ``position``, oldest first, at most ``BATCH``."""
        await self._ensure_fresh(generation)
        if position >= self._end:
            return []
        if position >= self._start:
            return [item for item in self._events if item.id > position][:BATCH]
        return await run_in_threadpool(self._read_since, position)

    def _stale(self, generation: int) -> bool:
        return (
            generation != self._generation or time.monotonic() - self._refreshed_at >= self._max_age
        )

    async def _ensure_fresh(self, generation: int) -> None:
        if not self._stale(generation):
            return
        async with self._lock:
            if not self._stale(generation):
                return  # another stream refreshed it while this one waited
            refreshed_at = time.monotonic()
            if self._end < 0:
                self._end = self._start = await run_in_threadpool(self._latest)
            while True:
                fresh = await run_in_threadpool(self._read_since, self._end)
                for item in fresh:
                    if len(self._events) == self._events.maxlen:
                        self._start = self._events[0].id
                    self._events.append(item)
                    self._end = item.id
                if len(fresh) < BATCH:
                    break
            self._generation, self._refreshed_at = generation, refreshed_at


def router(
    services: WebServices,
    poll_seconds: float = POLL_SECONDS,
) -> APIRouter:
    # Read when the router is built, not when the module is: a test may shorten it.
    keepalive = KEEPALIVE_SECONDS
    api = APIRouter(prefix=PREFIX, tags=["live"])

    def read_since(event_id: int) -> list[Event]:
        with services.store.read() as tx:
            return tx.events.since(event_id, BATCH)

    def latest() -> int:
        with services.store.read() as tx:
            return tx.events.latest_id()

    tail = EventTail(read_since, latest, poll_seconds)

    async def frames(request: Request, position: int) -> AsyncIterator[bytes]:
        changes = services.changes
        yield sse_frame(comment="spyagency live events", retry_ms=RETRY_MILLISECONDS)
        quiet_since = time.monotonic()
        while not await request.is_disconnected():
            events = await tail.since(position, changes.generation)
            for item in events:
                position = item.id
                data = conversions.event(item).model_dump_json()
                yield sse_frame(data=data, event=item.kind, event_id=item.id)
            if events:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= keepalive:
                yield sse_frame(comment="keep-alive")
                quiet_since = time.monotonic()
            if len(events) < BATCH:
                await changes.wait(poll_seconds)

    @api.get(
        "/events/stream",
        response_class=StreamingResponse,
        dependencies=[Depends(require(Action.READ))],
        responses={
            200: {
                "description": "a stream of server-sent events",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        },
    )
    async def stream(
        request: Request,
        after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
        last_event_id: Annotated[int | None, Header(ge=0, le=MAX_ID)] = None,
    ) -> StreamingResponse:
        """Each event's ``id`` is its event id, ``event`` its kind and ``data`` the JSON of
        ``Event``."""
        if last_event_id is not None:
            position = last_event_id
        elif after is not None:
            position = after
        else:
            position = await tail.latest(services.changes.generation)
        return StreamingResponse(
            frames(request, position), media_type="text/event-stream", headers=STREAM_HEADERS
        )

    return api
