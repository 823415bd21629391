"""Server-sent events over a real loopback connection: catch-up, live wake-ups, resuming."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from spyagency.web.app import create_app
from spyagency.web.services import ChangeFeed
from tests.web.api_world import NOW, READY, World, make_world
from tests.web.loopback import serving


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = make_world(f"sqlite:///{tmp_path / 'agency.db'}")
    yield world
    world.store.dispose()


async def read_events(lines: AsyncIterator[str], count: int) -> list[dict[str, Any]]:
    """Parse ``count`` events (id, event, data) off an event stream, skipping comments."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async for line in lines:
        if not line:
            if "data" in current:
                events.append(current)
                if len(events) == count:
                    return events
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            current[field] = value.removeprefix(" ")
    raise AssertionError(f"the stream ended after {len(events)} events")


# Only against a hang, never a measure: the awaited event normally comes at once (notified) or
# within one fallback poll.
HANG_GUARD_SECONDS = 30


class WatchedFeed(ChangeFeed):
    """The live feed with a hook for tests: ``parked`` is set when a stream has sent all it had
    and waits for a change, so a test writes only once the stream listens. With
    ``notified_only`` a waiting stream wakes on a notification alone, never on the fallback
    poll's timeout: an event that then arrives was delivered by the notification."""

    def __init__(self, *, notified_only: bool) -> None:
        super().__init__()
        self.parked = asyncio.Event()
        self._notified_only = notified_only

    async def wait(self, timeout: float) -> bool:
        self.parked.set()
        if self._notified_only:
            timeout = math.inf
        return await super().wait(timeout)


def latest_event_id(world: World) -> int:
    with world.store.read() as tx:
        return tx.events.latest_id()


async def test_a_stream_catches_up_wakes_on_changes_and_resumes(world: World) -> None:
    latest = latest_event_id(world)
    async with (
        serving(create_app(world.services)) as base,
        httpx2.AsyncClient(base_url=base) as http,
    ):
        async with http.stream("GET", "/api/v1/events/stream", params={"after": 0}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert "default-src 'self'" in stream.headers["content-security-policy"]
            first = await asyncio.wait_for(read_events(stream.aiter_lines(), 3), 5)
        assert [int(e["id"]) for e in first] == [1, 2, 3]
        data = json.loads(first[0]["data"])
        assert data["id"] == 1 and first[0]["event"] == data["kind"]

        # From the newest event on, a new one arrives when the feed is notified: the stream
        # waits for nothing else here.
        feed = world.services.changes = WatchedFeed(notified_only=True)
        headers = {"Last-Event-ID": str(latest)}
        async with http.stream("GET", "/api/v1/events/stream", headers=headers) as stream:
            lines = stream.aiter_lines()
            await feed.parked.wait()
            with world.store.transaction() as tx:
                new_id = tx.events.append(NOW, "override", run=READY, new="hold")
            await feed.notify()
            [live] = await asyncio.wait_for(read_events(lines, 1), HANG_GUARD_SECONDS)
        assert int(live["id"]) == new_id == latest + 1
        assert json.loads(live["data"])["new"] == "hold"

        # Last-Event-ID wins over ?after=, as a reconnecting browser expects.
        headers = {"Last-Event-ID": str(latest - 1)}
        params = {"after": 0}
        async with http.stream(
            "GET", "/api/v1/events/stream", headers=headers, params=params
        ) as stream:
            resumed = await asyncio.wait_for(read_events(stream.aiter_lines(), 2), 5)
        assert [int(e["id"]) for e in resumed] == [latest, latest + 1]


async def test_the_fallback_poll_finds_events_written_elsewhere(world: World) -> None:
    latest = latest_event_id(world)
    feed = world.services.changes = WatchedFeed(notified_only=False)
    async with (
        serving(create_app(world.services)) as base,
        httpx2.AsyncClient(base_url=base) as http,
        http.stream("GET", "/api/v1/events/stream") as stream,
    ):
        lines = stream.aiter_lines()
        await feed.parked.wait()  # the stream starts after the latest event and listens
        with world.store.transaction() as tx:  # no notify: another process wrote it
            tx.events.append(NOW, "signal", run=READY, new="ready")
        [found] = await asyncio.wait_for(read_events(lines, 1), HANG_GUARD_SECONDS)
    assert int(found["id"]) == latest + 1


async def test_a_bad_last_event_id_is_a_422(world: World) -> None:
    async with (
        serving(create_app(world.services)) as base,
        httpx2.AsyncClient(base_url=base) as http,
    ):
        answer = await http.get("/api/v1/events/stream", headers={"Last-Event-ID": "abc"})
    assert answer.status_code == 422
