"""Waiting for an event or a deadline, whichever comes first, without losing a cancellation.

Python 3.11's ``asyncio.wait_for`` swallows a cancellation that arrives as the awaited
thing finishes: the task that was told to stop goes on. A poller told to stop just as a batch
woke it then polled once more and slept its whole interval, and the engine's stop waited for
it. ``asyncio.timeout`` does not have that flaw, so every timed wait goes through here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def woken_within(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set (True) or ``seconds`` have passed (False)."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """``awaitable``'s result, or ``TimeoutError`` once ``seconds`` have passed."""
    async with asyncio.timeout(seconds):
        return await awaitable
