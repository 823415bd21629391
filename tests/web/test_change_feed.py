"""The live-update feed survives clients that go away while changes are announced."""

from __future__ import annotations

import asyncio
import random

import pytest

from spyagency.web.services import ChangeFeed


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
