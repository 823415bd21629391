"""The live-update feed survives clients that go away while changes are announced."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import pytest

from spyagency.store.events import Event
from spyagency.web.live import EventTail
from spyagency.web.services import ChangeFeed

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def test_cancelled_waiters_never_wedge_the_feed() -> None:
    """Fifty live pages closing at random while changes are announced every few ticks: every
    notification still returns at once, and a page opened afterwards is woken."""
    feed = ChangeFeed()
    rng = random.Random(7)
    for _ in range(20):
        waiters = [asyncio.create_task(feed.wait(30)) for _ in range(50)]
        await asyncio.sleep(0)
        for waiter in rng.sample(waiters, 25):
            waiter.cancel()
        await asyncio.wait_for(feed.notify(), 1)
        for waiter in rng.sample(waiters, 10):
            waiter.cancel()
        outcomes = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(o is True or isinstance(o, asyncio.CancelledError) for o in outcomes)
        assert any(o is True for o in outcomes)

    late = asyncio.create_task(feed.wait(30))
    await asyncio.sleep(0)
    await asyncio.wait_for(feed.notify(), 1)
    assert await asyncio.wait_for(late, 1) is True
    assert feed.generation == 21


@pytest.mark.timeout(30)
async def test_pages_closing_during_announcements_never_wedge_it() -> None:
    """Clients cancelled at every point of an announcement (before it, while it wakes them,
    while they time out), interleaved at random: the feed still answers afterwards."""
    feed = ChangeFeed()
    rng = random.Random(11)

    async def page() -> None:
        while True:
            await feed.wait(rng.choice([0.0005, 0.001, 0.01]))

    async def announcer() -> None:
        for _ in range(300):
            await feed.notify()
            await asyncio.sleep(rng.choice([0, 0, 0.0005]))

    pages = [asyncio.create_task(page()) for _ in range(50)]
    announcing = asyncio.create_task(announcer())
    while not announcing.done():
        victim = rng.randrange(len(pages))
        pages[victim].cancel()
        pages[victim] = asyncio.create_task(page())
        await asyncio.sleep(rng.choice([0, 0.0002]))
    await asyncio.wait_for(announcing, 5)
    for task in pages:
        task.cancel()
    await asyncio.gather(*pages, return_exceptions=True)

    late = asyncio.create_task(feed.wait(30))
    await asyncio.sleep(0)
    await asyncio.wait_for(feed.notify(), 1)
    assert await asyncio.wait_for(late, 1) is True


async def test_a_wait_without_news_times_out() -> None:
    assert await ChangeFeed().wait(0.01) is False


async def test_many_live_streams_cost_one_store_read_per_change() -> None:
    reads: list[int] = []
    events = [Event(i, NOW, None, None, "override", None, None, {}) for i in range(1, 6)]

    def read_since(position: int) -> list[Event]:
        reads.append(position)
        return [e for e in events if e.id > position]

    tail = EventTail(read_since, lambda: 2, max_age=3600)
    first = await asyncio.gather(*(tail.since(2, generation=0) for _ in range(100)))
    assert all([e.id for e in got] == [3, 4, 5] for got in first)
    assert reads == [2]
    again = await asyncio.gather(*(tail.since(4, generation=0) for _ in range(100)))
    assert all([e.id for e in got] == [5] for got in again) and reads == [2]
    events.append(Event(6, NOW, None, None, "override", None, None, {}))
    later = await asyncio.gather(*(tail.since(5, generation=1) for _ in range(100)))
    assert all([e.id for e in got] == [6] for got in later)
    assert reads == [2, 5]
    # A stream resuming from before the tail reads the store itself.
    assert [e.id for e in await tail.since(0, generation=1)] == [1, 2, 3, 4, 5, 6]
